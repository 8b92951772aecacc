// Package integration holds the Go integration tests that run real plugbox
// sandboxes through the built binary ($PLUGBOX, default bin/plugbox) and
// assert what the process inside could and could not do. The bats suites
// beside it test the CLI; these tests need root and skip without it.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTimeout bounds one sandbox run, including plugbox's own start-up.
const runTimeout = 90 * time.Second

// plugboxBinary returns the binary under test, skipping the test when it
// cannot run: not root, or no binary in $PLUGBOX or ../../bin/plugbox.
func plugboxBinary(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	p := os.Getenv("PLUGBOX")
	if p == "" {
		def, err := filepath.Abs(filepath.Join("..", "..", "bin", "plugbox"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(def); err != nil {
			t.Skip("$PLUGBOX is unset and ../../bin/plugbox does not exist: run 'make build' or 'make integration'")
		}
		p = def
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("$PLUGBOX %s: %v", abs, err)
	}
	return abs
}

// requireRoot skips t unless it runs as root, which sandboxes with id maps,
// cgroup limits and the control probes need.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandboxes map a range of host ids and set cgroup limits")
	}
}

// buildAttack builds the attack program statically into dir.
func buildAttack(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "attack")
	cmd := exec.Command("go", "build", "-o", out, "./attack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build attack program: %v\n%s", err, msg)
	}
	return out
}

// workDir returns a fresh directory every sandboxed uid can traverse (a
// t.TempDir is 0700, which the plugin's mapped ids could not enter), removed
// when t ends.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "plugbox-layers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// manifest is the part of plugin.json these tests write.
type manifest struct {
	Name     string   `json:"name"`
	Command  []string `json:"command"`
	Read     []string `json:"read,omitempty"`
	Write    []string `json:"write,omitempty"`
	Network  string   `json:"network,omitempty"`
	Syscalls []string `json:"syscalls,omitempty"`
	Landlock string   `json:"landlock,omitempty"`
	// OnViolation is the violation action ("errno", "kill", "trap", ...).
	OnViolation string `json:"onViolation,omitempty"`
	// SyscallActions overrides it per call.
	SyscallActions map[string]string `json:"syscallActions,omitempty"`
	Limits         map[string]any    `json:"limits,omitempty"`
	FDs            []string          `json:"fds,omitempty"`
	// ReadableExecutable keeps the plugin dumpable, so that its own
	// /proc/self files are its to write (see bundle.Manifest).
	ReadableExecutable bool `json:"readableExecutable,omitempty"`
}

// sandbox is one bundle authored by 'plugbox bundle init' and the state
// root its runs use.
type sandbox struct {
	plugbox string
	root    string // --root
	dir     string // the bundle
	hostUID int    // host uid of the plugin process
	hostGID int
	// timeout bounds each run (runTimeout when zero).
	timeout time.Duration
}

// initBundle writes m (a manifest, or another plugin.json shape) as
// plugin.json in work/NAME and runs 'plugbox bundle init' around exe into
// work/NAME/bundle.
func initBundle(t testing.TB, plugbox, work, name, exe string, m any) *sandbox {
	t.Helper()
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(dir, "plugin.json")
	if err := os.WriteFile(mpath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := &sandbox{plugbox: plugbox, root: filepath.Join(work, "state"), dir: filepath.Join(dir, "bundle")}
	// Flags before the argument: the CLI stops parsing flags at DIR.
	cmd := exec.Command(plugbox, "bundle", "init", "--exec", exe, "--manifest", mpath, b.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\nplugin.json:\n%s", strings.Join(cmd.Args, " "), err, out, data)
	}
	b.hostUID, b.hostGID = pluginHostIDs(t, filepath.Join(b.dir, "config.json"))
	return b
}

// pluginHostIDs reads config.json and returns the host uid and gid the
// plugin process runs as, through the user namespace maps.
func pluginHostIDs(t testing.TB, config string) (uid, gid int) {
	t.Helper()
	var c struct {
		Process struct {
			User struct {
				UID int `json:"uid"`
				GID int `json:"gid"`
			} `json:"user"`
		} `json:"process"`
		Linux struct {
			UIDMappings []idMap `json:"uidMappings"`
			GIDMappings []idMap `json:"gidMappings"`
		} `json:"linux"`
	}
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", config, err)
	}
	uid, ok1 := mapID(c.Linux.UIDMappings, c.Process.User.UID)
	gid, ok2 := mapID(c.Linux.GIDMappings, c.Process.User.GID)
	if !ok1 || !ok2 {
		t.Fatalf("%s: process.user %d:%d is outside the id maps %+v %+v", config, c.Process.User.UID, c.Process.User.GID, c.Linux.UIDMappings, c.Linux.GIDMappings)
	}
	return uid, gid
}

// idMap is one entry of linux.uidMappings or gidMappings.
type idMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

func mapID(maps []idMap, id int) (int, bool) {
	if len(maps) == 0 {
		return id, true
	}
	for _, m := range maps {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return m.HostID + id - m.ContainerID, true
		}
	}
	return 0, false
}

// runResult is what one sandbox run printed.
type runResult struct {
	stdout, stderr string
	err            error
	probes         map[string]string // PROBE name → result
}

// run starts the bundle with 'plugbox run' as container id, passing extra
// as descriptors 3.. (--preserve-fds), and waits for it.
func (b *sandbox) run(t *testing.T, id string, extra ...*os.File) *runResult {
	t.Helper()
	limit := b.timeout
	if limit == 0 {
		limit = runTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := []string{"--root", b.root, "run", "--bundle", b.dir}
	if len(extra) > 0 {
		args = append(args, "--preserve-fds", fmt.Sprint(len(extra)))
	}
	args = append(args, id)
	cmd := exec.CommandContext(ctx, b.plugbox, args...)
	cmd.ExtraFiles = extra
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	t.Cleanup(func() {
		exec.Command(b.plugbox, "--root", b.root, "delete", "--force", id).Run()
	})
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", limit, err)
	}
	r := &runResult{stdout: stdout.String(), stderr: stderr.String(), err: err, probes: parseProbes(stdout.String())}
	t.Logf("%s -> %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, r.stdout, r.stderr)
	if left := containerProcesses(id); len(left) > 0 {
		t.Errorf("processes of container %s outlived 'plugbox run' (host pids %v): killing them", id, left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return r
}

// exitCode returns the exit status of a finished run (0 on success, -1
// when it did not exit normally).
func (r *runResult) exitCode() int {
	if r.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// containerProcesses lists the host pids whose cgroup path names the
// container id: the processes still in the container's cgroups.
func containerProcesses(id string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	var pids []int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte("/"+id)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseProbes maps each "PROBE <name> <result>" line to its result.
func parseProbes(out string) map[string]string {
	probes := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "PROBE ")
		if !ok {
			continue
		}
		name, result, _ := strings.Cut(rest, " ")
		probes[name] = result
	}
	return probes
}

// probe returns the result of probe name, failing t when the attack program
// never printed it (it crashed or was killed before).
func (r *runResult) probe(t *testing.T, name string) string {
	t.Helper()
	v, ok := r.probes[name]
	if !ok {
		t.Fatalf("probe %s missing from the output (did the attack program die early? run error: %v)", name, r.err)
	}
	return v
}

// errnoOf returns ERRNO from a "denied ERRNO ..." result, or "".
func errnoOf(result string) string {
	rest, ok := strings.CutPrefix(result, "denied ")
	if !ok {
		return ""
	}
	e, _, _ := strings.Cut(rest, " ")
	return e
}
