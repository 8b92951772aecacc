package plugbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name  string
		job   Job
		files int
		want  string
	}{
		{"defaults", Job{Bundle: "/b"}, 0,
			"--log D/log --log-format json run --bundle /b --status-file D/status --hold-fd 3 ID"},
		{"root, files and timeout", Job{Root: "/r", Bundle: "/b", Timeout: 1500 * time.Millisecond}, 2,
			"--root /r --log D/log --log-format json run --bundle /b --status-file D/status --hold-fd 5 --preserve-fds 2 --timeout 1.5s ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(runArgs(&tc.job, "ID", "D", tc.files), " ")
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestPlugFiles(t *testing.T) {
	a, b := os.Stdin, os.Stdout
	tests := []struct {
		name    string
		files   []*os.File
		names   []string
		channel int // index of the supplied channel, -1 for none
		err     string
	}{
		{"no names", nil, nil, -1, ""},
		{"one per name", []*os.File{a, b}, []string{"input", "output"}, -1, ""},
		{"host supplied first", []*os.File{a}, []string{"host", "input"}, 0, ""},
		{"host supplied last", []*os.File{a, b}, []string{"input", "output", "host"}, 2, ""},
		{"host passed by the caller", []*os.File{a, b}, []string{"host", "input"}, -1, ""},
		{"one missing, no host", []*os.File{a}, []string{"input", "output"}, -1, "Job.Files has 1 descriptor(s); the bundle's manifest names 2 (input, output)"},
		{"two missing with host", nil, []string{"host", "input"}, -1, `or 1 without "host", which Create supplies`},
		{"files for none", []*os.File{a}, nil, -1, "names none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sandbox{id: "x"}
			all, child, err := s.plugFiles(tc.files, tc.names)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.channel < 0 {
				if child != nil || s.channel != nil || !slices.Equal(all, tc.files) {
					t.Fatalf("files %v, child %v: want the caller's files only", all, child)
				}
				return
			}
			defer child.Close()
			defer s.channel.Close()
			if len(all) != len(tc.names) || all[tc.channel] != child || s.channel == nil {
				t.Fatalf("files %v: want the channel's end at %d of %d", all, tc.channel, len(tc.names))
			}
			if want := slices.Delete(slices.Clone(all), tc.channel, tc.channel+1); !slices.Equal(want, tc.files) {
				t.Errorf("the caller's files moved: %v", all)
			}
		})
	}
}

func TestStatusDecoding(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &Sandbox{id: "x", op: "run", dir: dir}

	write(`{"exitCode":137,"signal":"SIGKILL","reason":"timeout","detail":"wall-clock limit 1s exceeded",
	  "violations":[{"syscall":"ptrace","nr":101,"arch":"amd64","args":[0,0,0,0,0,0],"pid":7,"action":"denied"},
	                {"syscall":"openat","action":"allowed"},
	                {"syscall":"mount","count":3},
	                {"notice":"dropped","action":"denied","count":9,"calls":{"mount":9}}],
	  "violationsIncomplete":"9 denied call(s) only counted","unknown":1}`)
	res, err := s.collect(nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 137 || res.Signal != "SIGKILL" || res.Reason != "timeout" || res.Detail == "" {
		t.Errorf("result %+v", res)
	}
	if len(res.Violations) != 2 || res.Violations[0].Syscall != "ptrace" || res.Violations[0].Count != 1 || res.Violations[1].Count != 3 {
		t.Errorf("violations %+v: want ptrace (count 1) and mount (count 3), not the allowed call nor the notice", res.Violations)
	}
	if res.Incomplete != "9 denied call(s) only counted" {
		t.Errorf("Incomplete %q", res.Incomplete)
	}

	// plugbox failed after the plugin ended: both.
	write(`{"exitCode":0,"reason":"exited","error":"delete x: busy"}`)
	res, err = s.collect(nil)
	var perr *Error
	if res == nil || !errors.As(err, &perr) || perr.Message != "delete x: busy" {
		t.Errorf("failure after the end: %+v, %v", res, err)
	}

	// plugbox failed before: only the error, plugin's exit status unknown.
	write(`{"reason":"error","error":"create x: no such bundle"}`)
	res, err = s.collect(nil)
	if res != nil || !errors.As(err, &perr) || perr.Error() != "plugbox run x: create x: no such bundle" {
		t.Errorf("failure before the end: %+v, %v", res, err)
	}

	// No status: the log's last error.
	os.Remove(path)
	if err := os.WriteFile(filepath.Join(dir, "log"), []byte(`{"level":"warning","msg":"w"}`+"\n"+`{"level":"error","msg":"the last error"}`+"\n"+`{"level":"info","msg":"i"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.collect(nil); !errors.As(err, &perr) || perr.Message != "the last error" {
		t.Errorf("from the log: %v", err)
	}
}
