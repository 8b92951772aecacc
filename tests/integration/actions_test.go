package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// buildActionsPlugin compiles tests/integration/actions/plugin.c
// statically into dir.
func buildActionsPlugin(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc is missing (apt-get install gcc): the action tests build their plugin with it")
	}
	out := filepath.Join(dir, "plugin")
	cmd := exec.Command("gcc", "-static", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", out, "actions/plugin.c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, msg)
	}
	return out
}

// kmsg reads the kernel log from now on, where the kernel's audit
// records of seccomp go without auditd (type=1326).
type kmsg struct{ fd int }

func openKmsg(t *testing.T) *kmsg {
	t.Helper()
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/kmsg: %v", err)
	}
	if _, err := unix.Seek(fd, 0, 2); err != nil {
		t.Fatalf("seek /dev/kmsg to its end: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &kmsg{fd}
}

// seccompRecords returns the seccomp audit records logged since openKmsg
// (or the last call) for command comm, and whether the kernel's printk
// rate limit dropped audit records meanwhile.
func (k *kmsg) seccompRecords(comm string) (recs []string, suppressed bool) {
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(k.fd, buf)
		if errors.Is(err, unix.EPIPE) {
			continue // overwritten records: read on
		}
		if err != nil || n <= 0 {
			return recs, suppressed
		}
		line := string(buf[:n])
		switch {
		case strings.Contains(line, "type=1326") && strings.Contains(line, `comm="`+comm+`"`):
			recs = append(recs, line)
		case strings.Contains(line, "kauditd_printk_skb") && strings.Contains(line, "suppressed"):
			suppressed = true
		}
	}
}

// TestViolationActions runs, for every onViolation action and a per-call
// override, a plugin that makes a call its profile denies, and checks what
// the plugin saw and what plugbox's violation log (or the kernel's) holds.
func TestViolationActions(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	plugin := buildActionsPlugin(t, work)
	nrGetpriority := fmt.Sprint(unix.SYS_GETPRIORITY)
	k := openKmsg(t)

	type check func(t *testing.T, b *sandbox, id string, r *runResult)
	noLog := func(t *testing.T, b *sandbox, id string) {
		t.Helper()
		if recs := b.violations(t, id); len(recs) != 0 {
			t.Errorf("plugbox's violation log holds %+v: this action is the kernel's alone", recs)
		}
	}
	exitOK := func(t *testing.T, r *runResult) {
		t.Helper()
		if r.exitCode() != 0 {
			t.Fatalf("plugin failed: %v", r.err)
		}
	}
	kernelRecord := func(t *testing.T, code string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			recs, suppressed := k.seccompRecords("plugin")
			for _, rec := range recs {
				if strings.Contains(rec, " syscall="+nrGetpriority+" ") && strings.Contains(rec, "code="+code) {
					return
				}
			}
			if suppressed {
				t.Logf("the kernel's printk rate limit dropped audit records while this ran (shared with the whole machine): not asserting the kernel's record")
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no kernel audit record for getpriority with code=%s (records seen: %v)", code, recs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	tests := []struct {
		name, mode, on string
		calls          map[string]string
		check          check
	}{
		{"errno", "call", "errno", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if got := r.probe(t, "call"); got != "-1 1" {
				t.Errorf("the plugin saw %q, want -1 with errno 1 (EPERM)", got)
			}
			recs := b.violations(t, id)
			if len(recs) != 1 || recs[0].Syscall != "getpriority" || recs[0].Action != "denied" || recs[0].Errno != "EPERM" {
				t.Errorf("log %+v, want one getpriority denied EPERM", recs)
			}
		}},
		{"errno:EACCES", "call", "errno:EACCES", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if got := r.probe(t, "call"); got != "-1 13" {
				t.Errorf("the plugin saw %q, want -1 with errno 13 (EACCES)", got)
			}
			recs := b.violations(t, id)
			if len(recs) != 1 || recs[0].Errno != "EACCES" {
				t.Errorf("log %+v, want one getpriority denied EACCES", recs)
			}
		}},
		{"enosys", "call", "enosys", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if got := r.probe(t, "call"); got != "-1 38" {
				t.Errorf("the plugin saw %q, want -1 with errno 38 (ENOSYS)", got)
			}
			noLog(t, b, id)
		}},
		{"kill", "call", "kill", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			if r.exitCode() != 128+int(syscall.SIGSYS) {
				t.Errorf("exit status %d (%v), want %d: killed by SIGSYS", r.exitCode(), r.err, 128+int(syscall.SIGSYS))
			}
			r.probe(t, "start")
			if _, ok := r.probes["call"]; ok {
				t.Error("the plugin went on after the denied call")
			}
			noLog(t, b, id)
			kernelRecord(t, "0x80000000") // SECCOMP_RET_KILL_PROCESS
		}},
		{"kill-thread", "thread", "kill-thread", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			r.probe(t, "thread.before")
			if got, ok := r.probes["thread.call"]; ok {
				t.Errorf("the killed thread went on after the denied call: %q", got)
			}
			r.probe(t, "thread.joined") // the main thread lives on
			r.probe(t, "end")
			noLog(t, b, id)
			kernelRecord(t, "0x0") // SECCOMP_RET_KILL_THREAD
		}},
		{"trap", "trap", "trap", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if r.probe(t, "trap.handled") != "1" {
				t.Fatal("the plugin's SIGSYS handler did not run")
			}
			if got := r.probe(t, "trap.si_syscall"); got != nrGetpriority {
				t.Errorf("si_syscall %s, want getpriority's number %s", got, nrGetpriority)
			}
			if got := r.probe(t, "trap.si_code"); got != "1" {
				t.Errorf("si_code %s, want 1 (SYS_SECCOMP)", got)
			}
			if got := r.probe(t, "trap.ret"); got != nrGetpriority {
				t.Errorf("the trapped call returned %s: it ran (a trapped call returns its own number, %s)", got, nrGetpriority)
			}
			noLog(t, b, id)
		}},
		{"log", "call", "log", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if got := r.probe(t, "call"); strings.HasPrefix(got, "-1") {
				t.Errorf("the plugin saw %q: the call should have run", got)
			}
			noLog(t, b, id)
			kernelRecord(t, "0x7ffc0000") // SECCOMP_RET_LOG
		}},
		{"audit", "call", "audit", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			if got := r.probe(t, "call"); strings.HasPrefix(got, "-1") {
				t.Errorf("the plugin saw %q: the call should have run", got)
			}
			recs := b.violations(t, id)
			if len(recs) != 1 || recs[0].Syscall != "getpriority" || recs[0].Action != "audited" || recs[0].Errno != "" {
				t.Errorf("log %+v, want one getpriority audited", recs)
			}
			if !strings.Contains(r.stderr, "seccomp audit: 1 call(s) the profile does not allow ran: getpriority") {
				t.Errorf("run's summary does not name the audited call: %q", r.stderr)
			}
		}},
		{"per-call actions", "two", "errno", map[string]string{"getpriority": "errno:EACCES", "setpriority": "kill"}, func(t *testing.T, b *sandbox, id string, r *runResult) {
			if got := r.probe(t, "getpriority"); got != "-1 13" {
				t.Errorf("getpriority: the plugin saw %q, want -1 EACCES (13)", got)
			}
			if _, ok := r.probes["setpriority"]; ok || r.exitCode() != 128+int(syscall.SIGSYS) {
				t.Errorf("setpriority did not kill the plugin: exit %d", r.exitCode())
			}
			recs := b.violations(t, id)
			if len(recs) != 1 || recs[0].Syscall != "getpriority" || recs[0].Errno != "EACCES" {
				t.Errorf("log %+v, want getpriority denied EACCES only (setpriority is the kernel's)", recs)
			}
		}},
		{"decoded arguments", "decode", "errno", nil, func(t *testing.T, b *sandbox, id string, r *runResult) {
			exitOK(t, r)
			for _, p := range []string{"socket", "openat", "clone", "ioctl"} {
				if got := r.probe(t, p); got != "-1 1" {
					t.Errorf("%s: the plugin saw %q, want EPERM", p, got)
				}
			}
			want := map[string]map[string]string{
				"socket": {"family": "AF_INET", "type": "SOCK_STREAM|SOCK_CLOEXEC"},
				"openat": {"dirfd": "AT_FDCWD", "flags": "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC", "mode": "0644"},
				"clone":  {"flags": "CLONE_NEWNS|CLONE_NEWUSER|SIGCHLD"},
				"ioctl":  {"request": "TIOCSTI"},
			}
			for _, rec := range b.violations(t, id) {
				w, ok := want[rec.Syscall]
				if !ok {
					continue
				}
				for key, v := range w {
					if rec.Decoded[key] != v {
						t.Errorf("%s: decoded %s = %q, want %q (record %+v)", rec.Syscall, key, rec.Decoded[key], v, rec)
					}
				}
				if len(rec.Args) != 6 {
					t.Errorf("%s: raw args %v, want all six kept", rec.Syscall, rec.Args)
				}
				delete(want, rec.Syscall)
			}
			if len(want) > 0 {
				t.Errorf("no record for %v", want)
			}
			text, err := exec.Command(b.plugbox, "--root", b.root, "violations", id).CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0,", "openat(AT_FDCWD, 0x", "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644", "clone(CLONE_NEWNS|CLONE_NEWUSER|SIGCHLD,", "ioctl(0x0, TIOCSTI,"} {
				if !strings.Contains(string(text), w) {
					t.Errorf("text log lacks %q:\n%s", w, text)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.NewReplacer(":", "-", " ", "-").Replace(tt.name)
			m := manifest{Name: "plugin", Command: []string{"/bin/plugin", tt.mode}, OnViolation: tt.on, SyscallActions: tt.calls,
				Limits: map[string]any{"pids": 16, "memory": "64M", "timeout": "20s"}}
			b := initBundle(t, plugbox, work, name, plugin, m)
			id := fmt.Sprintf("plugbox-actions-%d-%s", os.Getpid(), name)
			r := b.keptRun(t, id)
			t.Logf("%s -> %v\nstdout:\n%s\nstderr:\n%s", id, r.err, r.stdout, r.stderr)
			tt.check(t, b, id, r)
		})
	}
}
