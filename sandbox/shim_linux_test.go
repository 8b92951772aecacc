package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	// The container init is this test binary re-executed as "init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
)

// TestMain lets the test binary serve as what plugbox re-executes itself
// as: libcontainer's init and the container's monitor process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			libcontainer.Init()
		case MonitorArg:
			MonitorMain()
		case HookStateArg:
			HookStateMain()
		}
	}
	os.Exit(m.Run())
}

// authoredBundle writes a plugbox-authored busybox bundle running command.
func authoredBundle(t *testing.T, command ...string) (dir string, opts CreateOptions) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: an authored bundle maps the sandbox to host uids 100000+")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("/bin/busybox is missing: install Debian's busybox-static (make deps)")
	}
	work, err := os.MkdirTemp("", "plugbox-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil { // the sandbox's root must reach the rootfs
		t.Fatal(err)
	}
	dir = filepath.Join(work, "bundle")
	m := bundle.DefaultManifest()
	m.Name = "shimtest"
	m.Command = command
	// fs-write: a write to /proc/self/comm is then Landlock's to refuse.
	m.Syscalls = []string{"base", "fs-write", "process"}
	// Readable, so the process stays dumpable and owns /proc/self/comm:
	// the control run writes it.
	m.ReadableExecutable = true
	if err := bundle.Init(dir, "/bin/busybox", m, bundle.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, CreateOptions{ID: "shimtest-" + filepath.Base(work), Bundle: dir, Spec: spec, Monitor: string(monitor.Violations), Foreground: true}
}

// TestAdjustProcessForAnExecdProcess: a process exec'd into a running
// authored container through layerPlan.adjustProcess gets the plugin's
// layers, as the container's own process does: no_new_privs, the seccomp
// filter with its own monitor (a denial is answered EPERM and logged), and
// Landlock (it cannot write /proc/self/comm).
func TestAdjustProcessForAnExecdProcess(t *testing.T) {
	_, opts := authoredBundle(t, "/bin/busybox", "sleep", "20")
	root := t.TempDir()
	b, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer devnull.Close()
	opts.Stdin, opts.Stdout, opts.Stderr = devnull, devnull, devnull
	c, err := b.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	lc := c.(*linuxContainer)
	defer lc.Delete(true)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}

	exec := func(plan *layerPlan) string {
		t.Helper()
		process, err := newProcess(opts.Spec.Process)
		if err != nil {
			t.Fatal(err)
		}
		process.Args = []string{"/bin/busybox", "sh", "-c",
			"grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; busybox unshare -U true || echo unshare-denied; echo x >/proc/self/comm && echo comm-written"}
		var out bytes.Buffer
		process.Stdin, process.Stdout, process.Stderr = devnull, &out, &out
		if plan != nil {
			if err := plan.adjustProcess(process, root, opts.ID); err != nil {
				t.Fatal(err)
			}
		}
		if plan != nil {
			if err := plan.beforeStart(filepath.Join(root, opts.ID)); err != nil {
				t.Fatal(err)
			}
		}
		if err := lc.c.Run(process); err != nil {
			if plan != nil {
				plan.abort()
			}
			t.Fatalf("exec into the container: %v", err)
		}
		done := make(chan error, 1)
		go func() { _, err := process.Wait(); done <- err }()
		if plan != nil {
			if err := plan.afterStart(lc.c, process); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the exec'd process did not finish")
		}
		if plan != nil {
			plan.spawned.Wait()
		}
		return out.String()
	}
	// Control: libcontainer alone execs the process without the filter
	// (its stored config has none), so what follows is adjustProcess's.
	if got := exec(nil); !strings.Contains(got, "Seccomp:\t0") || !strings.Contains(got, "comm-written") {
		t.Fatalf("an exec'd process without the shim printed %q, want Seccomp 0 and comm-written", got)
	}
	plan, err := planLayers(opts, root)
	if err != nil {
		t.Fatal(err)
	}
	got := exec(plan)
	t.Logf("exec'd through the shim:\n%s", got)
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2", "unshare-denied", "/proc/self/comm: Permission denied"} {
		if !strings.Contains(got, want) {
			t.Errorf("the exec'd process printed %q, want %q in it", got, want)
		}
	}
	log, _ := os.ReadFile(ViolationLog(root, opts.ID))
	summary, _ := monitor.Summarize(bytes.NewReader(log))
	if !strings.Contains(strings.Join(summary.Names, ","), "unshare") {
		t.Errorf("the exec'd process's unshare is not in the violation log (%v)", summary.Names)
	}
}
