package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// keptRun runs the bundle with 'plugbox run --keep', so that its state and
// violation log stay for violations(), and deletes it when t ends.
func (b *sandbox) keptRun(t *testing.T, id string, extra ...*os.File) *runResult {
	t.Helper()
	args := []string{"--root", b.root, "run", "--keep", "--bundle", b.dir}
	if len(extra) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(extra)))
	}
	cmd := exec.Command(b.plugbox, append(args, id)...)
	cmd.ExtraFiles = extra
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t.Cleanup(func() { _ = exec.Command(b.plugbox, "--root", b.root, "delete", "--force", id).Run() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(runTimeout):
		cmd.Process.Kill()
		err = <-done
		t.Errorf("plugbox run %s did not finish within %s", id, runTimeout)
	}
	return &runResult{stdout: stdout.String(), stderr: stderr.String(), err: err, probes: parseProbes(stdout.String())}
}

// loggedCall is one line of 'plugbox violations --format json'.
type loggedCall struct {
	Syscall string            `json:"syscall"`
	Nr      int               `json:"nr"`
	Args    []uint64          `json:"args"`
	Action  string            `json:"action"`
	Errno   string            `json:"errno"`
	Decoded map[string]string `json:"decoded"`
}

func (b *sandbox) violations(t *testing.T, id string) []loggedCall {
	t.Helper()
	out, err := exec.Command(b.plugbox, "--root", b.root, "violations", "--format", "json", id).Output()
	if err != nil {
		t.Fatalf("plugbox violations %s: %v", id, err)
	}
	var calls []loggedCall
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var c loggedCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("violations line %q: %v", line, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// TestListenerHandoverLeavesNoAllowedSendmsg is the attack on the old
// listener handover, which allowed sendmsg on descriptor 3+N for the
// plugin's lifetime: under an authored profile that denies sendmsg, a plugin
// copies the socket the host passed onto every descriptor number and tries
// to send a descriptor out. Every attempt must be denied and logged, and
// the host must receive nothing.
func TestListenerHandoverLeavesNoAllowedSendmsg(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	attack := buildAttack(t, work)
	const maxFD = 40
	m := manifest{Name: "sendfds", Command: []string{"/attack", "sendfds", strconv.Itoa(maxFD)},
		Syscalls: []string{"base", "threads"}, FDs: []string{"sock"}, Limits: map[string]any{"pids": 32, "memory": "64M"}}
	b := initBundle(t, plugbox, work, "sendfds", attack, m)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := os.NewFile(uintptr(pair[0]), "host-end")
	plugin := os.NewFile(uintptr(pair[1]), "plugin-end")
	defer host.Close()
	id := fmt.Sprintf("plugbox-shim-%d-sendfds", os.Getpid())
	r := b.keptRun(t, id, plugin)
	plugin.Close()
	if _, ok := r.probes["done"]; !ok {
		t.Fatalf("the attack did not finish: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	for n := 3; n <= maxFD; n++ {
		want(t, r, "sendmsg.fd"+strconv.Itoa(n), "denied EPERM", is("denied EPERM"))
	}
	logged := map[uint64]bool{}
	for _, c := range b.violations(t, id) {
		if c.Syscall == "sendmsg" && c.Action == "denied" && len(c.Args) > 0 {
			logged[c.Args[0]] = true
		}
	}
	for n := 3; n <= maxFD; n++ {
		if !logged[uint64(n)] {
			t.Errorf("sendmsg on descriptor %d is not in the violation log", n)
		}
	}
	buf := make([]byte, 64)
	if n, _, _, _, err := unix.Recvmsg(pair[0], buf, make([]byte, 64), unix.MSG_DONTWAIT); err == nil {
		t.Errorf("the host received %q from the sandbox", buf[:n])
	}
}

// The calls Linux added after libseccomp 2.5.4's table (statmount 457 to
// file_setattr 469), which plugbox's profiles deny by name; numbered alike
// on amd64 and arm64.
var newerThanLibseccomp = map[int]string{457: "statmount", 458: "listmount", 460: "lsm_set_self_attr", 462: "mseal", 464: "getxattrat", 469: "file_setattr"}

// TestSyscallsNewerThanLibseccompReachTheProfile: these calls used to get
// ENOSYS from the stub in front of the filter, unlogged, even under a
// "kill" profile, while 'seccomp explain' said EPERM. They must get the
// profile's action: EPERM and a log line naming them, or the kill.
func TestSyscallsNewerThanLibseccompReachTheProfile(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	attack := buildAttack(t, work)
	args := []string{"/attack", "syscall"}
	for nr := range newerThanLibseccomp {
		args = append(args, strconv.Itoa(nr))
	}
	limits := map[string]any{"pids": 32, "memory": "64M", "timeout": "20s"}
	t.Run("violations: EPERM, logged by name", func(t *testing.T) {
		b := initBundle(t, plugbox, work, "newer-errno", attack, manifest{Name: "newer", Command: args, Syscalls: []string{"base", "threads"}, Limits: limits})
		id := fmt.Sprintf("plugbox-shim-%d-newer", os.Getpid())
		r := b.keptRun(t, id)
		logged := map[string]bool{}
		for _, c := range b.violations(t, id) {
			logged[c.Syscall] = true
		}
		for nr, name := range newerThanLibseccomp {
			want(t, r, "syscall."+strconv.Itoa(nr), "denied EPERM", is("denied EPERM"))
			if !logged[name] {
				t.Errorf("%s (%d) is not in the violation log by name", name, nr)
			}
		}
	})
	t.Run("kill: the plugin is killed", func(t *testing.T) {
		// attackSyscalls: the Go runtime's own calls must not be the kill.
		b := initBundle(t, plugbox, work, "newer-kill", attack, manifest{Name: "newer-kill", Command: []string{"/attack", "syscall", "460"},
			Syscalls: attackSyscalls, OnViolation: "kill", Limits: limits})
		r := b.keptRun(t, fmt.Sprintf("plugbox-shim-%d-newer-kill", os.Getpid()))
		want(t, r, "syscall.start", "ok (the program ran up to the call)", is("ok"))
		if got, printed := r.probes["syscall.460"]; printed || r.exitCode() != 128+int(syscall.SIGSYS) {
			t.Errorf("lsm_set_self_attr under a kill profile: printed %q, exit %d; want the plugin killed by SIGSYS (exit %d)", got, r.exitCode(), 128+int(syscall.SIGSYS))
		}
	})
}

// TestPluginRunsUnderTheContainersRlimits: an authored plugin whose
// config.json sets RLIMIT_AS 1 GiB and a 9 GiB stack runs with exactly
// those limits (the old Go exec shim aborted under them: pthread_create
// failed), because only the plugin runs under them.
func TestPluginRunsUnderTheContainersRlimits(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	m := manifest{Name: "rlimits", Command: []string{"/bin/busybox", "sh", "-c", "echo PROBE as $(ulimit -v); echo PROBE stack $(ulimit -s)"},
		Syscalls: []string{"base", "fs-read", "process"}}
	b := initBundle(t, plugbox, work, "rlimits", "/bin/busybox", m)
	editConfig(t, filepath.Join(b.dir, "config.json"), func(cfg map[string]any) {
		proc := cfg["process"].(map[string]any)
		rl, _ := proc["rlimits"].([]any)
		proc["rlimits"] = append(rl,
			map[string]any{"type": "RLIMIT_AS", "soft": 1 << 30, "hard": 1 << 30},
			map[string]any{"type": "RLIMIT_STACK", "soft": 9 << 30, "hard": 9 << 30})
	})
	r := b.run(t, fmt.Sprintf("plugbox-shim-%d-rlimits", os.Getpid()))
	if r.err != nil {
		t.Fatalf("the plugin did not run under RLIMIT_AS 1G and RLIMIT_STACK 9G: %v\n%s", r.err, r.stderr)
	}
	want(t, r, "as", "1048576 (KiB)", is("1048576"))
	want(t, r, "stack", "9437184 (KiB)", is("9437184"))
}

// TestShimKeepsTheProfilesDenialsOfItsOwnCalls is the attack on the old
// shim's withShimCalls, which turned any deny rule for the 17 calls it made
// itself (getpid, madvise, mmap ...) into an unconditional allow whenever
// the monitor was on: a hand-edited authored profile that denies getpid
// must deny it, with the monitor as without.
func TestShimKeepsTheProfilesDenialsOfItsOwnCalls(t *testing.T) {
	plugbox := plugboxBinary(t)
	getpid := map[string]int{"amd64": 39, "arm64": 172}[runtime.GOARCH]
	if getpid == 0 {
		t.Skipf("getpid's number on %s is not in this test", runtime.GOARCH)
	}
	work := workDir(t)
	attack := buildAttack(t, work)
	m := manifest{Name: "denygetpid", Command: []string{"/attack", "syscall", strconv.Itoa(getpid)},
		Syscalls: attackSyscalls, Limits: map[string]any{"pids": 32, "memory": "64M"}}
	b := initBundle(t, plugbox, work, "denygetpid", attack, m)
	editConfig(t, filepath.Join(b.dir, "config.json"), func(cfg map[string]any) {
		sc := cfg["linux"].(map[string]any)["seccomp"].(map[string]any)
		var rules []any
		for _, r := range sc["syscalls"].([]any) {
			rule := r.(map[string]any)
			var names []any
			for _, n := range rule["names"].([]any) {
				if n != "getpid" {
					names = append(names, n)
				}
			}
			if len(names) > 0 {
				rule["names"] = names
				rules = append(rules, rule)
			}
		}
		sc["syscalls"] = append(rules, map[string]any{"names": []string{"getpid"}, "action": "SCMP_ACT_ERRNO"})
		if cfg["annotations"].(map[string]any)["org.plugbox.monitor"] != "violations" {
			t.Fatal("the authored bundle has no monitor: the test needs it")
		}
	})
	id := fmt.Sprintf("plugbox-shim-%d-denygetpid", os.Getpid())
	r := b.keptRun(t, id)
	want(t, r, "syscall."+strconv.Itoa(getpid), "denied EPERM", is("denied EPERM"))
	var logged bool
	for _, c := range b.violations(t, id) {
		logged = logged || c.Syscall == "getpid"
	}
	if !logged {
		t.Error("the denied getpid is not in the violation log")
	}
}

// editConfig rewrites a bundle's config.json through edit.
func editConfig(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	var cfg map[string]any
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	if data, err = json.MarshalIndent(cfg, "", "  "); err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
