package monitor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const logLine = `"time":"2026-12-01T10:00:00Z","container":"c","pid":7,"arch":"amd64","nr":0,"args":[0,0,0,0,0,0]`

// sampleLog is a log with every kind of line the readers meet.
var sampleLog = `{` + logLine + `,"syscall":"ptrace","action":"denied"}
{` + logLine + `,"syscall":"openat","action":"allowed"}
not a record
{` + logLine + `,"syscall":"mount","action":"denied","count":4}
{"time":"2026-12-01T10:00:01Z","container":"c","notice":"dropped","action":"denied","count":9,"calls":{"mount":9},"message":"rate limit"}
{"time":"2026-12-01T10:00:02Z","container":"c","notice":"lost","count":2,"message":"disk full"}
{"time":"2026-12`

func writeLog(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "violations.jsonl")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadDenied(t *testing.T) {
	d, err := ReadDenied(writeLog(t, sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 2 || d.Events[0].Syscall != "ptrace" || d.Events[1].Syscall != "mount" || d.Events[1].Count != 4 {
		t.Errorf("events %+v: want ptrace, then mount ×4, not the allowed openat", d.Events)
	}
	if d.Dropped != 9 || d.Lost != 2 || d.Malformed != 1 {
		t.Errorf("dropped %d lost %d malformed %d, want 9, 2, 1", d.Dropped, d.Lost, d.Malformed)
	}
	want := "9 denied call(s) only counted, beyond the log's rate or size limit; 2 call(s) never written; 1 damaged line(s) skipped"
	if got := d.Incomplete(); got != want {
		t.Errorf("Incomplete %q\nwant       %q", got, want)
	}
	none, err := ReadDenied(filepath.Join(t.TempDir(), "absent"))
	if err != nil || len(none.Events) != 0 || none.Incomplete() != "" {
		t.Errorf("a missing log: %+v, %v; want empty and complete", none, err)
	}
}

func TestPrintLog(t *testing.T) {
	path := writeLog(t, sampleLog)
	tests := []struct {
		name   string
		offset int64
		json   bool
		want   []string // substrings of the output's lines, in order
	}{
		{"text from the start", 0, false, []string{" ptrace(", " openat(", " mount(", "notice dropped", "notice lost"}},
		{"json", 0, true, []string{`"syscall":"ptrace"`, `"syscall":"openat"`, `"syscall":"mount"`, `"notice":"dropped"`, `"notice":"lost"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			next, bad, err := PrintLog(&out, path, tc.offset, tc.json)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), out.String())
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q lacks %q", i, lines[i], w)
				}
			}
			if bad != 1 {
				t.Errorf("malformed %d, want 1", bad)
			}
			// The torn last line is not consumed: a follower reads it later.
			if want := int64(strings.LastIndexByte(sampleLog, '\n') + 1); next != want {
				t.Errorf("next offset %d, want %d (the torn line's start)", next, want)
			}
			var again bytes.Buffer
			if n2, _, _ := PrintLog(&again, path, next, tc.json); n2 != next || again.Len() != 0 {
				t.Errorf("from the end: offset %d, output %q; want nothing new", n2, again.String())
			}
		})
	}
	var out bytes.Buffer
	if next, _, err := PrintLog(&out, filepath.Join(t.TempDir(), "absent"), 5, false); err != nil || next != 5 || out.Len() != 0 {
		t.Errorf("a missing log: %d, %v, %q", next, err, out.String())
	}
}

func TestSummaryNameList(t *testing.T) {
	tests := []struct {
		s    Summary
		want string
	}{
		{Summary{}, ""},
		{Summary{Names: []string{"ptrace"}}, "ptrace"},
		{Summary{Names: []string{"ptrace", "mount"}, More: 3}, "ptrace, mount and 3 more"},
	}
	for _, tc := range tests {
		if got := tc.s.NameList(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}
