package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/jail"
	"github.com/plugbox/plugbox/jail/jailtest"
)

// These tests run the FreeBSD backend's create/start/kill/delete sequences
// and its init helper against jailtest.Fake, a recording jail.Sys with a
// model of the kernel behind it, and assert the exact system calls and
// arguments, in order. The helper runs in-process, on its own Fake, when
// the backend "starts" it.

const jailHelperPid = 4242

// jailRig is a state root, a bundle and the two fakes.
type jailRig struct {
	t      *testing.T
	host   *jailtest.Fake
	helper *jailtest.Fake
	b      *jailBackend
	bundle string
	rootfs string
	// helperDone receives what jailInit returned (jailtest.ErrExeced when
	// it reached the exec).
	helperDone chan error
	proc       *jailtest.Process
}

func newJailRig(t *testing.T) *jailRig {
	t.Helper()
	r := &jailRig{t: t, host: jailtest.New(), helper: jailtest.New(), helperDone: make(chan error, 1)}
	r.host.NextJID = 7
	b, err := newJailBackend(filepath.Join(t.TempDir(), "state"), r.host)
	if err != nil {
		t.Fatal(err)
	}
	b.exe = "/usr/local/bin/plugbox"
	b.removeWait = time.Second
	r.b = b
	r.bundle = t.TempDir()
	r.rootfs = filepath.Join(r.bundle, "rootfs")
	for _, d := range []string{"bin", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(r.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if r.rootfs, err = filepath.EvalSymlinks(r.rootfs); err != nil {
		t.Fatal(err)
	}
	r.helper.Executables["/bin/plugin"] = true
	// The helper inherits a pipe (stdin) and a tty (stdout, stderr).
	r.helper.FDs[0] = jailtest.FD{Status: jail.ORdonly, Info: jail.FileInfo{Type: jail.KFTypePipe}}
	r.helper.FDs[1] = jailtest.FD{Status: jail.ORdwr, Info: jail.FileInfo{Type: jail.KFTypePts}}
	r.helper.FDs[2] = jailtest.FD{Status: jail.ORdwr, Info: jail.FileInfo{Type: jail.KFTypePts}}
	r.host.Start = r.start
	return r
}

// start plays the forked helper: it runs jailInit on the helper fake with
// copies of the pipe ends the child would have inherited, and joins the
// newest jail in the host's process table.
func (r *jailRig) start(cmd *exec.Cmd) (jail.Process, error) {
	n := len(cmd.ExtraFiles)
	dup := func(f *os.File) *os.File {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			r.t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), f.Name())
	}
	cfgR, syncW := dup(cmd.ExtraFiles[n-2]), dup(cmd.ExtraFiles[n-1])
	r.proc = jailtest.NewProcess(jailHelperPid)
	r.host.Procs = append(r.host.Procs, jail.Proc{PID: jailHelperPid, JID: r.host.NextJID - 1})
	go func() {
		err := jailInit(r.helper, cfgR, syncW)
		r.helperDone <- err
		r.proc.Exit(jail.ExitStatus{Code: 0})
	}()
	return r.proc, nil
}

// spec is a minimal valid config.json for the rig's bundle.
func (r *jailRig) spec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Args: []string{"/bin/plugin"}, Cwd: "/", Env: []string{"PATH=/bin"},
			User: specs.User{UID: 1000, GID: 1000},
		},
	}
}

func (r *jailRig) create(id string, spec *specs.Spec, mod ...func(*CreateOptions)) (Container, error) {
	opts := CreateOptions{ID: id, Bundle: r.bundle, Spec: spec}
	for _, m := range mod {
		m(&opts)
	}
	return r.b.Create(opts)
}

// jailSet renders the jail_set call plugbox makes for spec.
func (r *jailRig) jailSet(id string, spec *specs.Spec, o jail.Options) string {
	ps, err := jail.Params(id, r.rootfs, spec, o)
	if err != nil {
		r.t.Fatal(err)
	}
	return "jail_set flags=0x1 " + jailtest.Render(ps)
}

// waitHelper returns what the helper returned after start.
func (r *jailRig) waitHelper() error {
	select {
	case err := <-r.helperDone:
		return err
	case <-time.After(5 * time.Second):
		r.t.Fatal("helper did not finish")
		return nil
	}
}

func jailDiff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	var b strings.Builder
	for i := 0; i < len(got) || i < len(want); i++ {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "!!"
		}
		fmt.Fprintf(&b, "%s %2d got  %s\n   %2d want %s\n", mark, i, g, i, w)
	}
	t.Errorf("%s calls differ:\n%s", what, b.String())
}

func jailI64(v int64) *int64 { return &v }

// The whole life of a container without Capsicum: the exact host calls of
// create (devfs ruleset check, mounts each checked with statfs, jail_set,
// rctl rules before any process joins, the helper with its own session),
// the helper's (limits, credentials around jail_attach, cwd,
// PROC_NO_NEW_PRIVS_CTL, lookup), start's exec, and delete in reverse.
func TestJailLifecycle(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Root.Readonly = true
	spec.Process.NoNewPrivileges = true
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 256}}
	spec.Mounts = []specs.Mount{
		{Destination: "/dev", Type: "devfs", Source: "devfs"},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "size=1m"}},
	}
	spec.Linux = &specs.Linux{Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: jailI64(256 << 20)}, Pids: &specs.LinuxPids{Limit: jailI64(64)},
	}}
	// F2: vnet "inherit" with addresses; the fake refuses a vnet parameter
	// next to ip4/ip6 as kern_jail_set does.
	spec.FreeBSD = &specs.FreeBSD{Jail: &specs.FreeBSDJail{Vnet: "inherit", Ip4Addr: []string{"10.0.0.5"}}}

	c, err := r.create("c1", spec)
	if err != nil {
		t.Fatal(err)
	}
	root := r.rootfs
	jailDiff(t, "create (host)", r.host.Calls(), []string{
		"devfs_rules 4", "devfs_rules 1", "devfs_rules 2", "devfs_rules 3",
		fmt.Sprintf(`nmount flags=0x1 fstype="nullfs" fspath="%s" target="%s"`, root, root),
		"statfs " + root,
		fmt.Sprintf(`nmount flags=0x0 fstype="devfs" fspath="%s/dev" from="devfs" ruleset="4"`, root),
		"statfs " + root + "/dev",
		fmt.Sprintf(`nmount flags=0xc fstype="tmpfs" fspath="%s/tmp" from="tmpfs" size="1m"`, root),
		"statfs " + root + "/tmp",
		r.jailSet("c1", spec, jail.Options{}),
		"rctl_add_rule jail:c1:maxproc:deny=64",
		"rctl_add_rule jail:c1:memoryuse:deny=268435456",
		"start /usr/local/bin/plugbox jail-init fds=5 setsid=true",
	})
	jailDiff(t, "create (helper)", r.helper.Calls(), []string{
		"setrlimit 8 256 256",
		"setgroups [1000]", "setresgid 1000 1000 1000", "setresuid 1000 0 0",
		"jail_attach 7", "setresuid 1000 1000 1000",
		"umask 022", "chdir /",
		"procctl 19 1", // F7: PROC_NO_NEW_PRIVS_CTL, PROC_NO_NEW_PRIVS_ENABLE
		"executable /bin/plugin",
	})
	if st, err := c.State(); err != nil || st.Status != StatusCreated || st.Pid != jailHelperPid {
		t.Fatalf("state %+v %v", st, err)
	}
	r.host.Reset()
	r.helper.Reset()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.waitHelper(); !errors.Is(err, jailtest.ErrExeced) {
		t.Fatalf("helper: %v", err)
	}
	jailDiff(t, "start (helper)", r.helper.Calls(), []string{
		"close_range 3 flags=0x4",
		`execve /bin/plugin ["/bin/plugin"] env=["PATH=/bin"]`,
	})
	r.host.Reset()
	if err := c.Delete(false); !errors.Is(err, ErrRunning) {
		t.Fatalf("delete of a running container: %v", err)
	}
	r.host.Reset()
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{}
	for _, m := range []struct{ target, fsid string }{{root, "FSID:100:58"}, {root + "/dev", "FSID:101:58"}, {root + "/tmp", "FSID:102:58"}} {
		mounts[m.target] = m.fsid
	}
	jailDiff(t, "delete", r.host.Calls(), []string{
		`jail_get name="c1"`, "sysctl kern.proc.pid.4242", // current(): the jail by name, then the pid in it
		`jail_get name="c1"`, "jail_remove 7", "sysctl kern.proc.proc",
		"rctl_remove_rule jail:c1:memoryuse:deny", "rctl_remove_rule jail:c1:maxproc:deny",
		"statfs " + root + "/tmp", "unmount " + mounts[root+"/tmp"] + " flags=0x0",
		"statfs " + root + "/dev", "unmount " + mounts[root+"/dev"] + " flags=0x0",
		"statfs " + root, "unmount " + mounts[root] + " flags=0x0",
	})
	if len(r.host.Mounts()) != 0 || len(r.host.RuleList()) != 0 || len(r.host.Jails) != 0 {
		t.Errorf("left behind: mounts %v rules %v jails %v", r.host.Mounts(), r.host.RuleList(), r.host.Jails)
	}
	if _, err := os.Stat(filepath.Join(r.b.root, "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir: %v", err)
	}
}

// A jail_set that fails (here: the name is taken by a jail of another
// state root) leaves that jail alone: plugbox never looks it up, let
// alone removes it; its own mounts come off in reverse.
func TestJailCreateFailsAtJailSet(t *testing.T) {
	r := newJailRig(t)
	r.host.Jails["c1"] = &jail.JailInfo{JID: 3, Path: r.rootfs}
	spec := r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs"}}
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), `jail c1: jail_set(JAIL_CREATE): jail "c1" already exists`) {
		t.Fatalf("create: %v", err)
	}
	root := r.rootfs
	jailDiff(t, "create", r.host.Calls(), []string{
		fmt.Sprintf(`nmount flags=0x0 fstype="tmpfs" fspath="%s/tmp" from="tmpfs"`, root),
		"statfs " + root + "/tmp",
		r.jailSet("c1", spec, jail.Options{}),
		"statfs " + root + "/tmp", "unmount FSID:100:58 flags=0x0",
	})
	if r.host.Jails["c1"] == nil || r.host.Jails["c1"].JID != 3 {
		t.Error("the other jail was removed")
	}
	if _, err := os.Stat(filepath.Join(r.b.root, "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left: %v", err)
	}
}

// F8: with kern.racct.enable=0 the limits cannot be applied, so create
// fails with the fix, after removing the jail it made; nothing is dropped
// silently.
func TestJailCreateRacctDisabled(t *testing.T) {
	r := newJailRig(t)
	r.host.RacctDisabled = true
	spec := r.spec()
	spec.Annotations = map[string]string{bundle.AnnotationRctl: "maxproc:deny=10"}
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), "kern.racct.enable=1") {
		t.Fatalf("create: %v", err)
	}
	jailDiff(t, "create", r.host.Calls(), []string{
		r.jailSet("c1", spec, jail.Options{}),
		"rctl_add_rule jail:c1:maxproc:deny=10",
		`jail_get name="c1"`, "jail_remove 7", "sysctl kern.proc.proc",
	})
	if len(r.host.Jails) != 0 {
		t.Errorf("jail left: %v", r.host.Jails)
	}
}

// F8: a limit without an rctl equivalent fails create before any side
// effect, as an unsupported feature.
func TestJailRefusesUnmappableResources(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	shares := uint64(512)
	spec.Linux = &specs.Linux{Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: &shares}}}
	_, err := r.create("c1", spec)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "linux.resources.cpu.shares") {
		t.Fatalf("create: %v", err)
	}
	if calls := r.host.Calls(); len(calls) != 0 {
		t.Errorf("side effects: %q", calls)
	}
}

// F5: after a reboot the stored jid belongs to another jail. delete and
// kill --all look the jail up by name and leave the other one alone.
func TestJailStaleJidAfterReboot(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs"}}
	c, err := r.create("c1", spec, func(o *CreateOptions) { o.Foreground = true })
	if err != nil {
		t.Fatal(err)
	}
	// The reboot: jails, mounts and processes are gone; rc.d/jail starts
	// "www", which gets jid 7 again, and an unrelated process takes the
	// helper's pid inside it.
	r.host.Jails = map[string]*jail.JailInfo{"www": {JID: 7, Path: "/jails/www"}}
	for _, m := range r.host.Mounts() {
		r.host.Unmount(m.FSID, 0)
	}
	r.host.Procs = []jail.Proc{{PID: jailHelperPid, JID: 7}, {PID: 5000, JID: 7}}
	r.host.Reset()

	st, err := c.State()
	if err != nil || st.Status != StatusStopped {
		t.Fatalf("state %+v %v, want stopped", st, err)
	}
	if err := c.Signal(syscall.SIGKILL, true); !errors.Is(err, ErrNotRunning) {
		t.Errorf("kill --all: %v", err)
	}
	if err := c.Delete(false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	for _, call := range r.host.Calls() {
		if strings.HasPrefix(call, "jail_remove") || strings.HasPrefix(call, "kill") || strings.HasPrefix(call, "unmount") {
			t.Errorf("touched the new boot's resources: %s", call)
		}
	}
	if r.host.Jails["www"] == nil {
		t.Error(`jail "www" was removed`)
	}

	// The same name reused by a jail with another jid or path is not ours
	// either.
	r2 := newJailRig(t)
	c2, err := r2.create("c2", r2.spec())
	if err != nil {
		t.Fatal(err)
	}
	r2.host.Jails["c2"] = &jail.JailInfo{JID: 9, Path: r2.rootfs}
	if err := c2.Delete(true); err != nil {
		t.Fatal(err)
	}
	if r2.host.Jails["c2"] == nil {
		t.Error("a jail with the name but another jid was removed")
	}
}

// F5: a crash inside jail_set leaves a jail whose jid was never saved;
// delete finds it by name and path and removes it (and a re-create would
// not fail with EEXIST).
func TestJailCrashInsideJailSet(t *testing.T) {
	r := newJailRig(t)
	dir := filepath.Join(r.b.root, "c1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := &jailState{ID: "c1", Rootfs: r.rootfs, JailName: "c1", JailPending: true, Status: StatusCreating}
	if err := saveJailState(dir, st); err != nil {
		t.Fatal(err)
	}
	r.host.Jails["c1"] = &jail.JailInfo{JID: 12, Path: r.rootfs}
	c, err := r.b.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	jailDiff(t, "delete", r.host.Calls(), []string{`jail_get name="c1"`, `jail_get name="c1"`, "jail_remove 12", "sysctl kern.proc.proc"})
}

// F6: --preserve-fds passes only descriptors the caller opened: not one
// that is closed (plugbox's own lock would take the slot), not
// close-on-exec ones (plugbox's), not directories or O_PATH (fchdir and
// ".." reach the host's tree). Refused before any side effect.
func TestJailPreservedFDs(t *testing.T) {
	for _, tt := range []struct {
		name string
		fd   *jailtest.FD
		want string
	}{
		{"not open", nil, "descriptor 3 is not open in the calling process; pass it"},
		{"plugbox's own", &jailtest.FD{Flags: jail.FDCloexec}, "(it is plugbox's own)"},
		{"directory", &jailtest.FD{Info: jail.FileInfo{Type: jail.KFTypeVnode, VnodeType: jail.KFVtypeVdir}}, "descriptor 3 is a directory"},
		{"O_PATH", &jailtest.FD{Status: jail.OPath, Info: jail.FileInfo{Type: jail.KFTypeVnode, VnodeType: jail.KFVtypeVreg}}, "O_PATH descriptor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newJailRig(t)
			if tt.fd != nil {
				r.host.FDs[3] = *tt.fd
			}
			_, err := r.create("c1", r.spec(), func(o *CreateOptions) { o.PreserveFDs = 1 })
			if err == nil || !strings.Contains(err.Error(), "--preserve-fds 1: "+tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("create: %v, want %q", err, tt.want)
			}
			for _, call := range r.host.Calls() {
				if !strings.HasPrefix(call, "fcntl 3") {
					t.Errorf("side effect: %s", call)
				}
			}
			if _, err := os.Stat(filepath.Join(r.b.root, "c1")); !errors.Is(err, os.ErrNotExist) {
				t.Error("state dir created")
			}
		})
	}
	r := newJailRig(t)
	r.host.FDs[3] = jailtest.FD{Status: jail.ORdwr, Info: jail.FileInfo{Type: jail.KFTypeSocket}}
	r.helper.FDs[3] = r.host.FDs[3]
	if _, err := r.create("c1", r.spec(), func(o *CreateOptions) { o.PreserveFDs = 1 }); err != nil {
		t.Fatal(err)
	}
	jailDiff(t, "create", r.host.Calls(), []string{
		"fcntl 3 F_GETFD", "fcntl 3 F_GETFL", "fcntl 3 F_KINFO",
		r.jailSet("c1", r.spec(), jail.Options{}),
		"start /usr/local/bin/plugbox jail-init fds=6 setsid=true",
	})
}

// F7: a kernel without PROC_NO_NEW_PRIVS_CTL fails create; the layer is
// never dropped.
func TestJailNoNewPrivsUnsupported(t *testing.T) {
	r := newJailRig(t)
	r.helper.FailOn("procctl 19", jail.EINVAL)
	spec := r.spec()
	spec.Process.NoNewPrivileges = true
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), "process.noNewPrivileges: procctl(PROC_NO_NEW_PRIVS_CTL)") {
		t.Fatalf("create: %v", err)
	}
	if len(r.host.Jails) != 0 {
		t.Error("jail left behind")
	}
}

// F9: a devfs mount whose ruleset is not loaded (here: none is) would show
// every host device; create refuses before mounting anything.
func TestJailDevfsRulesetNotLoaded(t *testing.T) {
	r := newJailRig(t)
	r.host.Rulesets = map[int][]jail.DevfsRule{}
	spec := r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/dev", Type: "devfs"}}
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), "mounts[0]: devfs ruleset 4 is not loaded") {
		t.Fatalf("create: %v", err)
	}
	jailDiff(t, "create", r.host.Calls(), []string{"devfs_rules 4"})
}

// F10: a mount target swapped for a symbolic link after Prepare (here,
// while the first mount is made) is refused right before nmount; and a
// mount the kernel put elsewhere (it followed a link) fails create and
// is not unmounted blindly, since plugbox cannot prove it is its own.
func TestJailMountTargetSwap(t *testing.T) {
	r := newJailRig(t)
	outside := t.TempDir()
	spec := r.spec()
	spec.Mounts = []specs.Mount{
		{Destination: "/tmp", Type: "tmpfs"},
		{Destination: "/data/cache", Type: "tmpfs"},
	}
	swapped := false
	r.host.OnCall = func(line string) {
		if strings.HasPrefix(line, "nmount") && !swapped {
			swapped = true
			os.RemoveAll(filepath.Join(r.rootfs, "data"))
			os.Symlink(outside, filepath.Join(r.rootfs, "data"))
		}
	}
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), "mounts[1] (tmpfs on /data/cache)") || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("create: %v", err)
	}
	for _, call := range r.host.Calls() {
		if strings.Contains(call, "/data") && strings.HasPrefix(call, "nmount") {
			t.Errorf("mounted through the link: %s", call)
		}
	}
	if len(r.host.Mounts()) != 0 {
		t.Errorf("mounts left: %v", r.host.Mounts())
	}

	r = newJailRig(t)
	r.host.Misdirect[r.rootfs+"/tmp"] = "/etc"
	spec = r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs"}}
	_, err = r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), "is not on "+r.rootfs+"/tmp") {
		t.Fatalf("misdirected mount: %v", err)
	}
	for _, call := range r.host.Calls() {
		if strings.HasPrefix(call, "unmount") {
			t.Errorf("unmounted something unproven: %s", call)
		}
	}
}

// F15: teardown unmounts by file system id, only while the target still
// shows that file system, and forces a busy one.
func TestJailUnmountByFSID(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs"}, {Destination: "/dev", Type: "devfs"}}
	c, err := r.create("c1", spec)
	if err != nil {
		t.Fatal(err)
	}
	ms := r.host.Mounts()
	r.host.Busy[ms[0].FSID] = true
	// /dev was unmounted behind plugbox's back and something else mounted
	// there: it must not be touched.
	r.host.Unmount(ms[1].FSID, 0)
	other := jail.FSInfo{FSID: jail.FSID{555, 1}, Type: "devfs", MntOn: r.rootfs + "/dev"}
	r.host.Mount(other)
	r.host.Reset()
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	root := r.rootfs
	jailDiff(t, "delete", r.host.Calls(), []string{
		`jail_get name="c1"`, "sysctl kern.proc.pid.4242",
		`jail_get name="c1"`, "jail_remove 7", "sysctl kern.proc.proc",
		"statfs " + root + "/dev",
		"statfs " + root + "/tmp", "unmount " + ms[0].FSID.String() + " flags=0x0", "unmount " + ms[0].FSID.String() + " flags=0x80000",
	})
	if got := r.host.Mounts(); len(got) != 1 || got[0] != other {
		t.Errorf("mounts %v, want only the other devfs", got)
	}
}

// F4: a parent jail that cannot hold children is reported before any side
// effect; one that can gets the child, and a plugbox container can be a
// parent through the childrenMax annotation.
func TestJailParent(t *testing.T) {
	r := newJailRig(t)
	r.host.Jails["net"] = &jail.JailInfo{JID: 3, Path: "/jails/net", ChildrenMax: 0}
	spec := r.spec()
	spec.FreeBSD = &specs.FreeBSD{Jail: &specs.FreeBSDJail{Parent: "net"}}
	_, err := r.create("c1", spec)
	if err == nil || !strings.Contains(err.Error(), `jail "net" has children.max=0`) || !strings.Contains(err.Error(), bundle.AnnotationChildrenMax) {
		t.Fatalf("create: %v", err)
	}
	jailDiff(t, "refused create", r.host.Calls(), []string{`jail_get name="net"`})
	r.host.Jails["net"].ChildrenMax = 2
	r.host.Reset()
	if _, err := r.create("c1", spec); err != nil {
		t.Fatal(err)
	}
	if calls := r.host.Calls(); !strings.Contains(calls[1], `name="net.c1"`) || !strings.Contains(calls[1], "children.max=0") {
		t.Errorf("jail_set %s", calls[1])
	}
	parent := r.spec()
	parent.Annotations = map[string]string{bundle.AnnotationChildrenMax: "4"}
	r.host.Reset()
	if _, err := r.create("p1", parent); err != nil {
		t.Fatal(err)
	}
	if calls := r.host.Calls(); !strings.Contains(calls[0], "children.max=4") {
		t.Errorf("jail_set %s", calls[0])
	}
}

// F1: the plugin's stdio is the caller's when CreateOptions leaves them
// nil, and F11: the helper always starts a session of its own, so the
// caller's terminal is never the plugin's controlling terminal. Checked
// with a real child process (this test binary in child mode).
func TestJailHelperCommandStdioAndSession(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	cfgR, cfgW, _ := os.Pipe()
	syncR, syncW, _ := os.Pipe()
	defer cfgW.Close()
	defer syncR.Close()
	saved := os.Stdout
	os.Stdout = outW // what the CLI's nil Stdout must fall back to
	cmd := jailHelperCommand(exe, CreateOptions{Foreground: true}, cfgR, syncW)
	os.Stdout = saved
	cmd.Args = []string{exe, "-test.run=^$"}
	cmd.Env = append(cmd.Env, "PLUGBOX_JAIL_TEST_CHILD=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	cfgR.Close()
	syncW.Close()
	done := make(chan []byte)
	go func() {
		b := make([]byte, 4096)
		n, _ := outR.Read(b)
		done <- b[:n]
	}()
	var out []byte
	select {
	case out = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no output from the child")
	}
	cmd.Wait()
	if !strings.Contains(string(out), "child stdout ok") {
		t.Errorf("child's stdout did not reach the caller's: %q", out)
	}
	if !strings.Contains(string(out), "session leader true") {
		t.Errorf("child is not a session leader: %q", out)
	}
}

// jailHelperChild is the child of the test above: the test binary run with
// PLUGBOX_JAIL_TEST_CHILD set reports what it inherited and exits before
// any test runs.
func init() {
	if os.Getenv("PLUGBOX_JAIL_TEST_CHILD") == "" {
		return
	}
	sid, _ := unix.Getsid(0)
	fmt.Fprintf(os.Stdout, "child stdout ok; session leader %v\n", sid == os.Getpid())
	os.Exit(0)
}

// jailHints lays out an ld-elf.so.hints file (struct elfhints_hdr, then the
// string table with the directory list).
func jailHints(list string) []byte {
	hdr := make([]byte, 128)
	for i, v := range []uint32{0x746e6845, 1, 128, uint32(len(list) + 1), 0, uint32(len(list))} {
		binary.LittleEndian.PutUint32(hdr[4*i:], v)
	}
	return append(append(hdr, list...), 0)
}

// F3, F14, F16: with Capsicum, every inherited descriptor is classified by
// F_KINFO and limited (a listener with RECV/SEND for its accepted
// connections, CAP_FCNTL narrowed to F_GETFL/F_SETFL and FIONBIO/FIONREAD
// for O_NONBLOCK); library directories come from the jail's hints file and
// rtld's standard path, never from the config's LD_LIBRARY_PATH ("/"
// here); cap_enter comes last, then fexecve of rtld with -f.
func TestJailCapsicumRun(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Annotations = map[string]string{bundle.AnnotationCapsicum: "true"}
	spec.Process.Env = []string{"PATH=/bin", "LD_LIBRARY_PATH=/", "LISTEN_FDS=1", "LISTEN_PID=1"}
	// /bin/true is a dynamic ELF: the program and its PT_INTERP are real
	// files for jail.Interpreter to read.
	interp := jailMustInterp(t, "/bin/true")
	hintsFile := filepath.Join(t.TempDir(), "hints")
	os.WriteFile(hintsFile, jailHints("/lib:/usr/lib:/usr/local/lib/compat"), 0o644)
	r.helper.Files["/bin/plugin"] = "/bin/true"
	r.helper.Files[interp] = interp
	r.helper.Files["/var/run/ld-elf.so.hints"] = hintsFile
	for _, d := range []string{"/lib", "/usr/local/lib/compat", "/lib/casper"} {
		r.helper.Files[d] = "/"
	}
	listener := jailtest.FD{Status: jail.ORdwr, Info: jail.FileInfo{Type: jail.KFTypeSocket}, Listening: true}
	r.host.FDs[3] = listener
	r.helper.FDs[3] = listener
	c, err := r.create("c1", spec, func(o *CreateOptions) { o.PreserveFDs = 1 })
	if err != nil {
		t.Fatal(err)
	}
	prep := r.helper.Calls()
	wantPrep := []string{
		"setgroups [1000]", "setresgid 1000 1000 1000", "setresuid 1000 0 0", "jail_attach 7",
		"setresuid 1000 1000 1000", "umask 022", "chdir /", "executable /bin/plugin",
		"fcntl 0 F_KINFO", "fcntl 0 F_GETFL",
		"fcntl 1 F_KINFO", "fcntl 1 F_GETFL",
		"fcntl 2 F_KINFO", "fcntl 2 F_GETFL",
		"fcntl 3 F_KINFO", "fcntl 3 F_GETFL", "getsockopt 3 SO_ACCEPTCONN",
		"open /bin/plugin flags=0x0",
		"open " + interp + " flags=0x0",
		"read /var/run/ld-elf.so.hints",
		"open /lib flags=0x20000", "open /usr/lib flags=0x20000", "open /usr/local/lib/compat flags=0x20000",
		"open /lib/casper flags=0x20000", "open /usr/local/lib flags=0x20000",
	}
	jailDiff(t, "prepare (helper)", prep, wantPrep)
	r.helper.Reset()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.waitHelper(); !errors.Is(err, jailtest.ErrExeced) {
		t.Fatalf("helper: %v", err)
	}
	pipeR := "CAP_READ|CAP_FCNTL|CAP_FSTAT|CAP_EVENT|CAP_IOCTL"
	tty := "CAP_READ|CAP_WRITE|CAP_FCNTL|CAP_FSTAT|CAP_EVENT|CAP_IOCTL"
	sock := "CAP_READ|CAP_WRITE|CAP_FCNTL|CAP_FSTAT|CAP_ACCEPT|CAP_GETPEERNAME|CAP_GETSOCKNAME|CAP_GETSOCKOPT|CAP_SETSOCKOPT|CAP_SHUTDOWN|CAP_EVENT|CAP_IOCTL"
	stream := "[0x8004667e 0x4004667f]"
	ttyIoctls := "[0x8004667e 0x4004667f 0x402c7413]"
	libs := "CAP_MMAP_RX|CAP_LOOKUP|CAP_FSTAT|CAP_FSTATFS"
	exec := "CAP_MMAP_RX|CAP_FEXECVE|CAP_FSTAT"
	env := fmt.Sprintf(`["PATH=/bin" "LD_LIBRARY_PATH=/" "LISTEN_FDS=1" "LISTEN_PID=%d" "LD_LIBRARY_PATH_FDS=102:103:104"]`, os.Getpid())
	jailDiff(t, "run (helper)", r.helper.Calls(), []string{
		"close_range 4 flags=0x4",
		"cap_rights_limit 0 " + pipeR, "cap_fcntls_limit 0 0x18", "cap_ioctls_limit 0 " + stream,
		"cap_rights_limit 1 " + tty, "cap_fcntls_limit 1 0x18", "cap_ioctls_limit 1 " + ttyIoctls,
		"cap_rights_limit 2 " + tty, "cap_fcntls_limit 2 0x18", "cap_ioctls_limit 2 " + ttyIoctls,
		"cap_rights_limit 3 " + sock, "cap_fcntls_limit 3 0x18", "cap_ioctls_limit 3 " + stream,
		"cap_rights_limit 102 " + libs, "cap_rights_limit 103 " + libs, "cap_rights_limit 104 " + libs,
		"cloexec 100 false", "cloexec 102 false", "cloexec 103 false", "cloexec 104 false",
		"cap_rights_limit 101 " + exec,
		"cap_rights_limit 100 " + exec,
		"cap_enter",
		fmt.Sprintf(`fexecve 101 ["%s" "-f" "100" "--" "/bin/plugin"] env=%s`, filepath.Base(interp), env),
	})
	for _, call := range prep {
		if call == "open / flags=0x20000" {
			t.Error(`LD_LIBRARY_PATH=/ was opened for the plugin`)
		}
	}
}

func jailMustInterp(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	interp, err := jail.Interpreter(f)
	if err != nil || interp == "" {
		t.Skipf("%s has no ELF interpreter on this host (%v); the test needs a dynamic executable", p, err)
	}
	return interp
}

// F14: a kqueue among the inherited descriptors fails create under
// Capsicum instead of being limited as the pipe fstat calls it.
func TestJailCapsicumRefusesKqueue(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Annotations = map[string]string{bundle.AnnotationCapsicum: "true"}
	kq := jailtest.FD{Status: jail.ORdonly, Info: jail.FileInfo{Type: jail.KFTypeKqueue}}
	r.host.FDs[3], r.helper.FDs[3] = kq, kq
	_, err := r.create("c1", spec, func(o *CreateOptions) { o.PreserveFDs = 1 })
	if err == nil || !strings.Contains(err.Error(), "descriptor 3 (a kqueue)") {
		t.Fatalf("create: %v", err)
	}
	if len(r.host.Jails) != 0 {
		t.Error("jail left behind")
	}
}

// plugbox trace: the helper is ktrace'd for capability violations and path
// lookups before start, applies the limits, issues the marker and execs
// without cap_enter.
func TestJailTraceMode(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Annotations = map[string]string{bundle.AnnotationCapsicum: "true"}
	r.helper.Files["/bin/plugin"] = "/bin/true"
	r.helper.Files[jailMustInterp(t, "/bin/true")] = jailMustInterp(t, "/bin/true")
	c, err := r.create("c1", spec, func(o *CreateOptions) { o.Monitor = "learning"; o.Foreground = true })
	if err != nil {
		t.Fatal(err)
	}
	calls := r.host.Calls()
	want := fmt.Sprintf("ktrace %s ops=0 facs=0x40001008 pid=%d", filepath.Join(r.b.root, "c1", jailKtraceFile), jailHelperPid)
	if calls[len(calls)-1] != want {
		t.Errorf("last host call %q, want %q", calls[len(calls)-1], want)
	}
	if fi, err := os.Stat(filepath.Join(r.b.root, "c1", jailKtraceFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ktrace file: %v %v", fi, err)
	}
	r.helper.Reset()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitHelper()
	hc := r.helper.Calls()
	if hc[0] != "chdir "+jail.TraceMarker {
		t.Errorf("first call after start %q, want the trace marker", hc[0])
	}
	for _, call := range hc {
		if call == "cap_enter" {
			t.Error("trace entered capability mode")
		}
	}
	if !strings.HasPrefix(hc[len(hc)-1], "fexecve") {
		t.Errorf("last call %q", hc[len(hc)-1])
	}
	if code, err := c.Wait(); err != nil || code != 0 {
		t.Errorf("wait %d %v", code, err)
	}

	// A monitor needs Capsicum: there is nothing to record otherwise.
	r2 := newJailRig(t)
	if _, err := r2.create("c2", r2.spec(), func(o *CreateOptions) { o.Monitor = "violations" }); err == nil || !strings.Contains(err.Error(), bundle.AnnotationCapsicum) {
		t.Errorf("monitor without Capsicum: %v", err)
	}
}

// F13 and the authored bundles: what plugbox spec and plugbox bundle init
// --os freebsd write is accepted and mapped (Capsicum, the violation
// monitor, limits as rctl rules).
func TestJailAcceptsAuthoredBundles(t *testing.T) {
	r := newJailRig(t)
	starter := bundle.FreeBSDStarterSpec()
	if _, err := checkJailOptions(CreateOptions{Spec: starter}); err != nil {
		t.Errorf("plugbox spec output refused: %v", err)
	}
	m := bundle.DefaultManifest()
	m.Command = []string{"/bin/plugin"}
	spec, err := bundle.FreeBSDSpec(m, bundle.SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec.Mounts = nil // the rig's rootfs has no /tmp of that size to check; mounts are tested above
	r.helper.Files["/bin/plugin"] = "/bin/true"
	r.helper.Files[jailMustInterp(t, "/bin/true")] = jailMustInterp(t, "/bin/true")
	if _, err := r.create("c1", spec, func(o *CreateOptions) { o.Monitor = spec.Annotations[bundle.AnnotationMonitor] }); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, c := range r.host.Calls() {
		if strings.HasPrefix(c, "rctl_add_rule") || strings.HasPrefix(c, "ktrace") {
			rules = append(rules, strings.Fields(c)[0]+" "+strings.Fields(c)[1])
		}
	}
	want := []string{
		"rctl_add_rule jail:c1:maxproc:deny=64", "rctl_add_rule jail:c1:memoryuse:deny=268435456",
		"rctl_add_rule jail:c1:openfiles:deny=16384", "rctl_add_rule jail:c1:pcpu:deny=100",
		"ktrace " + filepath.Join(r.b.root, "c1", jailKtraceFile),
	}
	jailDiff(t, "limits and monitor", rules, want)
	if !strings.Contains(strings.Join(r.helper.Calls(), "\n"), "procctl 19 1") {
		t.Error("noNewPrivileges not applied")
	}
}

// A foreground container's exit status: 128+N when signal N killed it.
func TestJailWaitStatus(t *testing.T) {
	r := newJailRig(t)
	r.host.Start = func(cmd *exec.Cmd) (jail.Process, error) {
		p := jailtest.NewProcess(jailHelperPid)
		cfgR := cmd.ExtraFiles[len(cmd.ExtraFiles)-2]
		rfd, _ := syscall.Dup(int(cfgR.Fd()))
		go io.Copy(io.Discard, os.NewFile(uintptr(rfd), "cfg"))
		syncW := cmd.ExtraFiles[len(cmd.ExtraFiles)-1]
		fd, _ := syscall.Dup(int(syncW.Fd()))
		w := os.NewFile(uintptr(fd), "sync")
		w.Write([]byte("{}"))
		w.Close()
		r.proc = p
		return p, nil
	}
	c, err := r.create("c1", r.spec(), func(o *CreateOptions) { o.Foreground = true })
	if err != nil {
		t.Fatal(err)
	}
	r.proc.Kill()
	if code, err := c.Wait(); err != nil || code != 128+9 {
		t.Errorf("wait = %d %v, want 137", code, err)
	}
	d, _ := r.create("c2", r.spec())
	if _, err := d.Wait(); err == nil {
		t.Error("wait on a detached container succeeded")
	}
}

// F17: teardown reports a failing process listing instead of going on to
// unmount under processes that may still run; the state is kept for
// another delete.
func TestJailTeardownProcessListFails(t *testing.T) {
	r := newJailRig(t)
	spec := r.spec()
	spec.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs"}}
	c, err := r.create("c1", spec)
	if err != nil {
		t.Fatal(err)
	}
	r.host.FailOn("sysctl kern.proc.proc", jail.EPERM)
	err = c.Delete(true)
	if err == nil || !strings.Contains(err.Error(), "list its processes after jail_remove") {
		t.Fatalf("delete: %v", err)
	}
	if len(r.host.Mounts()) != 1 {
		t.Errorf("unmounted while the jail's processes may run: %v", r.host.Mounts())
	}
	// The jail is gone now; a second delete finishes the job.
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	if len(r.host.Mounts()) != 0 {
		t.Errorf("mounts left: %v", r.host.Mounts())
	}
}

// kill and kill --all reach the init process and every process of the
// container's own jail, found by name.
func TestJailSignal(t *testing.T) {
	r := newJailRig(t)
	c, err := r.create("c1", r.spec())
	if err != nil {
		t.Fatal(err)
	}
	r.host.Procs = append(r.host.Procs, jail.Proc{PID: 5001, JID: 7}, jail.Proc{PID: 5002, JID: 8}, jail.Proc{PID: 5003, JID: 7, Stat: jail.StatZombie})
	r.host.Reset()
	if err := c.Signal(syscall.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(syscall.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	jailDiff(t, "kill", r.host.Calls(), []string{
		`jail_get name="c1"`, "sysctl kern.proc.pid.4242", "kill 4242 15",
		`jail_get name="c1"`, "sysctl kern.proc.pid.4242", "sysctl kern.proc.proc", "kill 4242 9", "kill 5001 9",
	})
	if pids, err := c.Processes(); err != nil || !reflect.DeepEqual(pids, []int{4242, 5001}) {
		t.Errorf("ps %v %v", pids, err)
	}
}
