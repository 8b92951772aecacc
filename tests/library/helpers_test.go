// Package library tests package plugbox from outside, as a host program
// uses it: real plugins in real sandboxes through the plugbox binary
// ($PLUGBOX, default ../../bin/plugbox), checking what came out, how the
// plugin ended, what seccomp denied, and that nothing is left behind. The
// sandboxes need root; the tests skip without it.
package plugbox_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugbox/plugbox"
)

// env is what one test's sandboxes share.
type env struct {
	binary string // the plugbox binary
	work   string // a directory every sandboxed uid can traverse
	root   string // the test's private state root
	plugin string // the test plugin, built static
	mark   string // in every plugin's environment, to find leaked processes
}

// newEnv builds the test plugin and gives the test a private state root;
// it skips the test when not root or without the binary.
func newEnv(t testing.TB) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandboxes map a range of host ids and set cgroup limits")
	}
	bin := os.Getenv("PLUGBOX")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "plugbox")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("$PLUGBOX is unset and ../../bin/plugbox does not exist: run 'make build'")
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	// A t.TempDir is 0700: the plugin's mapped ids could not enter it.
	work, err := os.MkdirTemp("", "plugbox-library-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{binary: abs, work: work, root: filepath.Join(work, "root"), mark: "PLUGBOX_LIBRARY_MARK=" + filepath.Base(work)}
	e.plugin = buildPlugin(t, work)
	return e
}

// buildPlugin compiles testdata/plugin.c statically into dir.
func buildPlugin(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "plugin")
	cmd := exec.Command("gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out, "testdata/plugin.c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin (gcc -static; Debian: apt-get install gcc libc6-dev): %v\n%s", err, msg)
	}
	return out
}

// author writes a bundle named name running the test plugin with args and
// the descriptors fds, with plugbox's hardened defaults and only group base.
func (e *env) author(t testing.TB, name string, fds []string, args ...string) string {
	t.Helper()
	dir := filepath.Join(e.work, name)
	m := &plugbox.Manifest{
		Name:     name,
		Command:  append([]string{"/plugin"}, args...),
		Env:      []string{e.mark},
		Syscalls: []string{"base"},
		FDs:      fds,
	}
	if err := plugbox.Author(dir, e.plugin, m, plugbox.AuthorOptions{}); err != nil {
		t.Fatalf("Author %s: %v", name, err)
	}
	return dir
}

// job is a Job for bundle under the test's binary and root.
func (e *env) job(bundle string) plugbox.Job {
	return plugbox.Job{Binary: e.binary, Root: e.root, Bundle: bundle, Timeout: 60 * time.Second}
}

// assertNothingLeft checks that the sandbox id left nothing behind: no
// state under the root (the cache of compiled seccomp programs is shared,
// not the sandbox's), no cgroup, no plugin process.
func (e *env) assertNothingLeft(t testing.TB, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no sandbox ID to check")
	}
	if entries, err := os.ReadDir(e.root); err == nil {
		for _, de := range entries {
			if de.Name() != "@bpf-cache" {
				t.Errorf("state left under the root: %s", filepath.Join(e.root, de.Name()))
			}
		}
	}
	if left := cgroupsNamed(id); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
	if pids := e.markedProcesses(); len(pids) > 0 {
		t.Errorf("plugin processes left behind: %v", pids)
	}
}

// cgroupsNamed lists the cgroup directories called id.
func cgroupsNamed(id string) []string {
	var found []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return filepath.SkipDir
		}
		if d.IsDir() && d.Name() == id {
			found = append(found, path)
			return filepath.SkipDir
		}
		return nil
	})
	return found
}

// markedProcesses lists the PIDs whose environment carries the test's mark.
func (e *env) markedProcesses() []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(data, []byte{0}) {
			if string(v) == e.mark {
				pids = append(pids, strings.Split(p, "/")[2])
			}
		}
	}
	return pids
}

// syncBuffer is a bytes.Buffer safe to read while a copy writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signalWriter closes its channel the first time want appears in what is
// written to it.
type signalWriter struct {
	syncBuffer
	want string
	once sync.Once
	seen chan struct{}
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, seen: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}
