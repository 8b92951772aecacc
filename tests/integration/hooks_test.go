package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runtimeUnderTest starts a bundle with one OCI runtime's run verb.
type runtimeUnderTest struct {
	name string
	run  func(t *testing.T, bundle, id string) *runResult
}

// hookRuntimes are Debian's runc and plugbox, each with a private root.
func hookRuntimes(t *testing.T, plugbox string) []runtimeUnderTest {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is missing (apt-get install runc): the hooks are tested under runc and plugbox")
	}
	runIn := func(bin string, root string, extra ...string) func(t *testing.T, bundle, id string) *runResult {
		return func(t *testing.T, bundle, id string) *runResult {
			t.Helper()
			args := append([]string{"--root", root, "run"}, extra...)
			cmd := exec.Command(bin, append(args, "--bundle", bundle, id)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = 5 * time.Second
			t.Cleanup(func() { exec.Command(bin, "--root", root, "delete", "--force", id).Run() })
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(runTimeout):
				cmd.Process.Kill()
				err = fmt.Errorf("timed out: %w", <-done)
			}
			r := &runResult{stdout: stdout.String(), stderr: stderr.String(), err: err, probes: parseProbes(stdout.String())}
			t.Logf("%s -> %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, r.stdout, r.stderr)
			return r
		}
	}
	base := t.TempDir()
	return []runtimeUnderTest{
		{"runc", runIn(runc, filepath.Join(base, "runc"))},
		{"plugbox", runIn(plugbox, filepath.Join(base, "plugbox"))},
	}
}

// hookBundle authors a bundle around the actions plugin and edits its
// config.json so that runc can run it too (explicit id maps, since runc
// reads no plugbox annotation) and so that it runs hooks (each args list
// runs as `plugbox ARGS...` in createRuntime); edit changes the config
// further.
func hookBundle(t *testing.T, plugbox, work, name, plugin string, m manifest, hooks [][]string, edit func(map[string]any)) string {
	t.Helper()
	b := initBundle(t, plugbox, work, name, plugin, m)
	path := filepath.Join(b.dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	linux := c["linux"].(map[string]any)
	idmap := []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
	linux["uidMappings"], linux["gidMappings"] = idmap, idmap
	delete(c["annotations"].(map[string]any), "org.plugbox.idmap")
	var list []any
	for _, h := range hooks {
		list = append(list, map[string]any{"path": plugbox, "args": append([]string{"plugbox"}, h...)})
	}
	c["hooks"] = map[string]any{"createRuntime": list}
	if edit != nil {
		edit(c)
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return b.dir
}

// hookManifest is the actions plugin with the groups runc needs too: its
// exec fifo is opened for writing after it loads the profile.
func hookManifest(mode, onViolation string) manifest {
	return manifest{Name: "plugin", Command: []string{"/bin/plugin", mode}, OnViolation: onViolation,
		Syscalls: []string{"base", "fs-write", "process"}, Limits: map[string]any{"pids": 16, "memory": "64M", "timeout": "20s"}}
}

// TestHookCheck: the check hook lets a configuration plugbox check rates
// at most MEDIUM start, and refuses one rated HIGH with the findings on
// standard error, under runc and under plugbox.
func TestHookCheck(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	plugin := buildActionsPlugin(t, work)
	good := hookBundle(t, plugbox, work, "check-good", plugin, hookManifest("call", "errno"), [][]string{{"hook", "check"}}, nil)
	bad := hookBundle(t, plugbox, work, "check-bad", plugin, hookManifest("call", "errno"), [][]string{{"hook", "check"}}, func(c map[string]any) {
		caps := c["process"].(map[string]any)["capabilities"].(map[string]any)
		caps["bounding"], caps["permitted"], caps["effective"] = []string{"CAP_SYS_ADMIN"}, []string{"CAP_SYS_ADMIN"}, []string{"CAP_SYS_ADMIN"}
	})
	for _, rt := range hookRuntimes(t, plugbox) {
		t.Run(rt.name, func(t *testing.T) {
			id := fmt.Sprintf("plugbox-hook-check-%d-%s", os.Getpid(), rt.name)
			r := rt.run(t, good, id+"-good")
			if r.err != nil {
				t.Fatalf("a configuration without HIGH findings was refused: %v", r.err)
			}
			if got := r.probe(t, "call"); got != "-1 1" {
				t.Errorf("the plugin ran but saw %q, want EPERM: its seccomp profile is not in force", got)
			}
			r = rt.run(t, bad, id+"-bad")
			if r.err == nil {
				t.Fatal("a configuration granting CAP_SYS_ADMIN (HIGH) started")
			}
			if _, ran := r.probes["start"]; ran {
				t.Error("the refused container's process ran")
			}
			for _, want := range []string{"plugbox hook check", "HIGH process.capabilities", "CAP_SYS_ADMIN", "HIGH finding(s)"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
		})
	}
}

// kernelRecordLine is a line of the record hook's output.
type kernelRecordLine struct {
	Notice  string `json:"notice"`
	Message string `json:"message"`
	Pid     int    `json:"pid"`
	Comm    string `json:"comm"`
	Arch    string `json:"arch"`
	Syscall string `json:"syscall"`
	Nr      int    `json:"nr"`
	Action  string `json:"action"`
	Source  string `json:"source"`
}

// readRecords waits until the recorder of container id has finished (it
// ends shortly after the container's init) and returns its lines.
func readRecords(t *testing.T, dir, id string) []kernelRecordLine {
	t.Helper()
	path := filepath.Join(dir, id+".jsonl")
	deadline := time.Now().Add(5 * time.Second)
	for recorderRunning(id) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if recorderRunning(id) {
		t.Errorf("the recorder of %s still runs after its container ended", id)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the record hook wrote nothing: %v", err)
	}
	defer f.Close()
	var out []kernelRecordLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l kernelRecordLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("record line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	t.Logf("%s:\n%+v", path, out)
	return out
}

func recorderRunning(id string) bool {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), "__plugbox-recorder\x00"+id+"\x00") {
			return true
		}
	}
	return false
}

// calls returns the records (not notices) of lines.
func calls(lines []kernelRecordLine) []kernelRecordLine {
	var out []kernelRecordLine
	for _, l := range lines {
		if l.Notice == "" {
			out = append(out, l)
		}
	}
	return out
}

// TestHookRecord: the record hook records, from outside the container,
// the calls the kernel reports its filter denying (a kill, errno denials
// with SECCOMP_FILTER_FLAG_LOG) or logging, following the container's
// forks and nothing else, under runc and under plugbox; and it says, for
// an errno profile without the flag, that the kernel reports none.
func TestHookRecord(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	plugin := buildActionsPlugin(t, work)
	records := filepath.Join(work, "records")
	hook := [][]string{{"hook", "record", "--dir", records}}
	kill := hookBundle(t, plugbox, work, "record-kill", plugin, hookManifest("call", "kill"), hook, nil)
	forks := hookBundle(t, plugbox, work, "record-fork", plugin, hookManifest("fork", "log"), hook, nil)
	// An errno profile with SECCOMP_FILTER_FLAG_LOG and no plugbox monitor,
	// as another runtime would run it (runc 1.1 refuses the flag).
	errnoLog := hookBundle(t, plugbox, work, "record-errno", plugin, hookManifest("call", "errno"), hook, func(c map[string]any) {
		c["linux"].(map[string]any)["seccomp"].(map[string]any)["flags"] = []string{"SECCOMP_FILTER_FLAG_LOG"}
		delete(c["annotations"].(map[string]any), "org.plugbox.monitor")
	})
	errnoSilent := hookBundle(t, plugbox, work, "record-silent", plugin, hookManifest("call", "errno"), hook, nil)
	nr := fmt.Sprint(syscall.SYS_GETPRIORITY)
	for _, rt := range hookRuntimes(t, plugbox) {
		t.Run(rt.name, func(t *testing.T) {
			id := fmt.Sprintf("plugbox-hook-record-%d-%s", os.Getpid(), rt.name)

			r := rt.run(t, kill, id+"-kill")
			if r.exitCode() != 128+int(syscall.SIGSYS) {
				t.Errorf("exit %d (%v), want death by SIGSYS", r.exitCode(), r.err)
			}
			got := calls(readRecords(t, records, id+"-kill"))
			if len(got) != 1 || got[0].Syscall != "getpriority" || fmt.Sprint(got[0].Nr) != nr || got[0].Action != "killed" ||
				got[0].Comm != "plugin" || got[0].Pid <= 0 || got[0].Arch == "" || got[0].Source != "kernel" {
				t.Errorf("records %+v, want the one getpriority that killed the plugin", got)
			}

			r = rt.run(t, forks, id+"-fork")
			if r.err != nil {
				t.Fatal(r.err)
			}
			got = calls(readRecords(t, records, id+"-fork"))
			pids := map[int]bool{}
			for _, g := range got {
				if g.Syscall == "getpriority" && g.Action == "logged" {
					pids[g.Pid] = true
				}
			}
			if len(pids) != 2 || len(got) != 2 {
				t.Errorf("records %+v, want getpriority logged by two processes (the plugin and its child)", got)
			}

			if rt.name == "plugbox" {
				// Debian's runc 1.1 refuses linux.seccomp.flags ("not yet supported").
				r = rt.run(t, errnoLog, id+"-errno")
				if got := r.probe(t, "call"); got != "-1 1" {
					t.Errorf("the plugin saw %q, want EPERM", got)
				}
				got = calls(readRecords(t, records, id+"-errno"))
				if len(got) != 1 || got[0].Syscall != "getpriority" || got[0].Action != "denied" {
					t.Errorf("records %+v, want getpriority denied", got)
				}
			}

			r = rt.run(t, errnoSilent, id+"-silent")
			if got := r.probe(t, "call"); got != "-1 1" {
				t.Errorf("the plugin saw %q, want EPERM", got)
			}
			lines := readRecords(t, records, id+"-silent")
			if len(lines) == 0 || lines[0].Notice != "recording" || !strings.Contains(lines[0].Message, `are not reported by the kernel: add "SECCOMP_FILTER_FLAG_LOG"`) {
				t.Errorf("the first line %+v does not say that errno denials go unreported", lines)
			}
			if c := calls(lines); len(c) != 0 {
				t.Errorf("records %+v for a profile whose denials the kernel does not report", c)
			}
		})
	}
}
