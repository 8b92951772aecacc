package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCopyLog(t *testing.T) {
	for _, tc := range []struct {
		name, log, stdout, stderr, err string
	}{
		{
			name:   "full lines on both streams",
			log:    "2026-12-01T10:00:00.000000001Z stdout F hello from cri\n2026-12-01T10:00:00.1Z stderr F oops\n",
			stdout: "hello from cri\n", stderr: "oops\n",
		},
		{
			name:   "a partial record continues in the next",
			log:    "t stdout P long \nt stdout P li\nt stdout F ne\n",
			stdout: "long line\n",
		},
		{
			name:   "an empty line of output, spaces kept",
			log:    "t stdout F \nt stdout F  a  b\n",
			stdout: "\n a  b\n",
		},
		{
			name:   "a tag with more parts",
			log:    "t stdout F:x hi\n",
			stdout: "hi\n",
		},
		{name: "unknown stream", log: "t stdin F x\n", err: `line 1: stream "stdin"`},
		{name: "unknown tag", log: "t stdout F\nt stdout X x\n", stdout: "\n", err: `line 2: tag "X"`},
		{name: "too few fields", log: "garbage\n", err: "line 1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := copyLog(strings.NewReader(tc.log), &stdout, &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.stdout || stderr.String() != tc.stderr {
				t.Errorf("stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
		})
	}
}
