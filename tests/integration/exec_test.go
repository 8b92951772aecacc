package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestExecGetsPluginLayers runs the attack probes through 'plugbox exec'
// into a running plugin sandbox: the exec'd process must get the plugin's
// seccomp profile (denials logged by its monitor), Landlock ruleset,
// no_new_privs and empty capabilities, not an unconfined process in the
// sandbox's namespaces.
func TestExecGetsPluginLayers(t *testing.T) {
	requireRoot(t)
	e := newLayerEnv(t)
	m := e.probeManifest("none", "")
	m.FDs = nil
	probeArgs := m.Command
	m.Command = []string{"/attack", "hold"}
	b := initBundle(t, e.plugbox, e.work, "exec", e.attack, m)
	if err := os.Chown(e.writeDir, b.hostUID, b.hostGID); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("plugbox-exec-%d", os.Getpid())
	pb := func(args ...string) *exec.Cmd {
		return exec.Command(e.plugbox, append([]string{"--root", b.root}, args...)...)
	}
	t.Cleanup(func() { pb("delete", "--force", id).Run() })
	// The detached plugin keeps its stdio: a file, not a pipe to wait on.
	logFile, err := os.Create(b.dir + ".out")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	detached := pb("run", "--detach", "--bundle", b.dir, id)
	detached.Stdout, detached.Stderr = logFile, logFile
	if err := detached.Run(); err != nil {
		out, _ := os.ReadFile(logFile.Name())
		t.Fatalf("run --detach: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := pb(append([]string{"exec", id}, probeArgs...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("exec -> %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	r := &runResult{stdout: stdout.String(), stderr: stderr.String(), err: err, probes: parseProbes(stdout.String())}
	if _, ok := r.probes["done"]; !ok {
		t.Fatalf("the exec'd attack program did not finish its probes: %v\n%s", err, stderr.String())
	}
	want(t, r, "status.CapEff", "value 0000000000000000", is("value 0000000000000000"))
	want(t, r, "status.CapBnd", "value 0000000000000000", is("value 0000000000000000"))
	want(t, r, "status.NoNewPrivs", "value 1", is("value 1"))
	want(t, r, "status.Seccomp", "value 2", is("value 2"))
	for _, name := range seccompDenied {
		want(t, r, name, "denied EPERM", hasPrefix("denied EPERM"))
	}
	for _, name := range []string{"landlock.proc-self-comm", "landlock.mqueue-create"} {
		want(t, r, name, "denied EACCES (Landlock)", is("denied EACCES"))
	}
	want(t, r, "getpid", "ok", is("ok"))

	// The exec'd process's denials reach the sandbox's violation log.
	out, err := pb("violations", "--format", "json", id).Output()
	if err != nil {
		t.Fatalf("violations: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev struct {
			Syscall string `json:"syscall"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil {
			seen[ev.Syscall] = true
		}
	}
	for _, call := range []string{"ptrace", "mount", "init_module", "bpf"} {
		if !seen[call] {
			t.Errorf("violation log lacks the exec'd process's denied %s call; it holds: %s", call, out)
		}
	}
}
