package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/websocket"
)

// fakeStreamServer answers one exec stream the way the kubelet's streaming
// server does: it accepts only the v4 channel protocol, sends an empty
// stdout message (the server's "ready"), then frames, then closes.
func fakeStreamServer(t *testing.T, frames ...[]byte) string {
	t.Helper()
	srv := httptest.NewServer(websocket.Server{
		Handshake: func(cfg *websocket.Config, _ *http.Request) error {
			if !slices.Contains(cfg.Protocol, streamProtocol) {
				return fmt.Errorf("protocols %v lack %s", cfg.Protocol, streamProtocol)
			}
			cfg.Protocol = []string{streamProtocol}
			return nil
		},
		Handler: func(ws *websocket.Conn) {
			websocket.Message.Send(ws, []byte{channelStdout})
			for _, f := range frames {
				if err := websocket.Message.Send(ws, f); err != nil {
					t.Errorf("send: %v", err)
				}
			}
		},
	})
	t.Cleanup(srv.Close)
	return srv.URL + "/exec/token"
}

func frame(ch byte, s string) []byte { return append([]byte{ch}, s...) }

func TestStreamExec(t *testing.T) {
	for _, tc := range []struct {
		name           string
		frames         [][]byte
		code           int
		err            string
		stdout, stderr string
	}{
		{
			name: "success",
			frames: [][]byte{frame(channelStdout, "out 1\n"), frame(channelStderr, "err\n"), frame(channelStdout, "out 2\n"),
				frame(channelError, `{"metadata":{},"status":"Success"}`)},
			stdout: "out 1\nout 2\n", stderr: "err\n",
		},
		{
			name: "exit code",
			frames: [][]byte{frame(channelStdout, "x"), frame(channelError,
				`{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`)},
			code: 3, stdout: "x",
		},
		{
			name:   "status split over two messages",
			frames: [][]byte{frame(channelError, `{"status":`), frame(channelError, `"Success"}`)},
		},
		{
			name:   "runtime error",
			frames: [][]byte{frame(channelError, `{"status":"Failure","message":"exec: \"nope\": not found","reason":"InternalError"}`)},
			err:    `the exec failed: exec: "nope": not found (InternalError)`,
		},
		{
			name:   "no status",
			frames: [][]byte{frame(channelStdout, "x")},
			err:    "without the command's status",
			stdout: "x",
		},
		{
			name:   "exit code not a number",
			frames: [][]byte{frame(channelError, `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"three"}]}}`)},
			err:    `exit code "three"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, err := streamExec(fakeStreamServer(t, tc.frames...), &stdout, &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stdout.String() != tc.stdout || stderr.String() != tc.stderr {
				t.Errorf("stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

func TestStreamExecRefusesOtherSchemes(t *testing.T) {
	if _, err := streamExec("ftp://127.0.0.1/exec/x", nil, nil); err == nil || !strings.Contains(err.Error(), `"ftp"`) {
		t.Fatalf("error %v, want one naming the scheme", err)
	}
}
