package shim

import (
	"bytes"
	"encoding/binary"
	"errors"
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
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/monitor"
)

// The test binary doubles as the plugin: with probeEnv set, TestMain runs
// one probe and exits.
const probeEnv = "PLUGBOX_SHIM_TEST_PROBE"

func TestMain(m *testing.M) {
	if p, ok := os.LookupEnv(probeEnv); ok {
		runProbe(p)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runProbe(p string) {
	switch name, arg, _ := strings.Cut(p, ":"); name {
	case "fds":
		// Raw calls: the Go runtime's poller has not opened its own yet;
		// the runtime's cgroup CPU files (GOMAXPROCS) are left out.
		dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		buf := make([]byte, 4096)
		n, _ := unix.Getdents(dir, buf)
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		var fds []string
		for _, name := range names {
			link, _ := os.Readlink("/proc/self/fd/" + name)
			if name != strconv.Itoa(dir) && !strings.HasPrefix(link, "/sys/fs/cgroup/") {
				fds = append(fds, name)
			}
		}
		fmt.Println(strings.Join(fds, ","))
	case "getpid":
		r, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		if e != 0 {
			fmt.Println("denied", unix.ErrnoName(e))
			return
		}
		fmt.Println("pid", r)
	case "abstract-listen":
		// Bound and listening until killed.
		fd, err := abstractSocket(arg, true)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		fmt.Println("listening")
		time.Sleep(20 * time.Second)
		unix.Close(fd)
	case "abstract-connect", "abstract-bind":
		fd, err := abstractSocket(arg, name == "abstract-bind")
		var errno syscall.Errno
		switch {
		case err == nil:
			unix.Close(fd)
			fmt.Println("ok")
		case errors.As(err, &errno):
			fmt.Println("denied", unix.ErrnoName(errno))
		default:
			fmt.Println("error", err)
		}
	case "caps":
		// What the plugin got: its capability sets, whether a filter is on
		// and no_new_privs, then a getpid the test's filter denies.
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if k, _, _ := strings.Cut(line, ":"); strings.HasPrefix(k, "Cap") || k == "Seccomp" || k == "NoNewPrivs" {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
		if _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); e != 0 {
			fmt.Println("getpid denied", unix.ErrnoName(e))
		} else {
			fmt.Println("getpid allowed")
		}
	case "read":
		_, err := os.ReadFile(arg)
		var errno syscall.Errno
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.As(err, &errno):
			fmt.Println("denied", unix.ErrnoName(errno))
		default:
			fmt.Println("error", err)
		}
	}
}

// abstractSocket binds (and listens on) or connects a stream socket to the
// abstract unix address "\0name".
func abstractSocket(name string, bind bool) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	addr := &unix.SockaddrUnix{Name: "@" + name}
	if bind {
		if err = unix.Bind(fd, addr); err == nil {
			err = unix.Listen(fd, 1)
		}
	} else {
		err = unix.Connect(fd, addr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// shimRun is one run of the shim with cfg; files become descriptors 3...
type shimRun struct {
	cfg   *Config
	files []*os.File
	env   []string
	// started, when set, runs once the shim process exists.
	started func(t testing.TB, pid int)
	cred    *syscall.Credential
	// ambient are capabilities the shim starts with (raised in its
	// inheritable, permitted and ambient sets), as libcontainer leaves
	// them for a non-root process whose filter the shim loads.
	ambient []uintptr
	// nnp starts the shim with no_new_privs, as libcontainer does.
	nnp bool
}

// run execs the shim as libcontainer would (args[0] /proc/self/fd/K, the
// configuration descriptor in argv[1]) and returns its output and status.
func (r shimRun) run(t testing.TB) (stdout, stderr string, code int) {
	t.Helper()
	exe, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, err := ConfigFile(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cfgFile.Close()
	files := append(append([]*os.File{}, r.files...), exe, cfgFile)
	k, c := 3+len(files)-2, 3+len(files)-1
	var out, errOut bytes.Buffer
	cmd := &exec.Cmd{
		Path:        "/proc/self/fd/" + strconv.Itoa(k),
		Args:        []string{"/proc/self/fd/" + strconv.Itoa(k), strconv.Itoa(c)},
		Env:         r.env,
		ExtraFiles:  files,
		Stdout:      &out,
		Stderr:      &errOut,
		SysProcAttr: &syscall.SysProcAttr{Credential: r.cred, AmbientCaps: r.ambient},
	}
	if err := r.start(cmd); err != nil {
		t.Fatal(err)
	}
	if r.started != nil {
		r.started(t, cmd.Process.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the shim did not finish within 20s; stderr: %s", errOut.String())
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// start starts cmd, with no_new_privs when r asks for it: the flag is set
// on a thread of its own, which forks the shim and is then thrown away.
func (r shimRun) start(cmd *exec.Cmd) error {
	if !r.nnp {
		return cmd.Start()
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- err
			return
		}
		done <- cmd.Start()
	}()
	return <-done
}

func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// selfForAll returns a copy of the test binary that any user may run (the
// build directory is private to its owner).
func selfForAll(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shimtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(self(t))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "shim.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func probe(name string) []string { return []string{probeEnv + "=" + name} }

// bpf assembles a filter for the native architecture that gives nr the
// action ret and allows every other call.
func bpf(nr int, ret uint32) []byte {
	const ldNr, jeq, retK = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_RET | unix.BPF_K
	prog := []unix.SockFilter{
		{Code: ldNr, K: 0},
		{Code: jeq, Jt: 0, Jf: 1, K: uint32(nr)},
		{Code: retK, K: ret},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	var b []byte
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// oneLine checks a failure: exit 127 and a single stderr line naming layer.
func oneLine(t *testing.T, stderr string, code int, layer, detail string) {
	t.Helper()
	if code != 127 {
		t.Errorf("exit status %d, want 127 (stderr %q)", code, stderr)
	}
	want := "plugbox: sandbox setup failed, plugin not started: " + layer + ": "
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, detail) {
		t.Errorf("stderr %q: want one line starting %q and containing %q", stderr, want, detail)
	}
}

func TestShimExecsThePluginWithOnlyTheKeptDescriptors(t *testing.T) {
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		keep  int
		files []*os.File
		want  string
	}{
		{3, nil, "0,1,2"},
		{4, []*os.File{f}, "0,1,2,3"},
		// Descriptor 3 exists but is not declared: closed.
		{3, []*os.File{f}, "0,1,2"},
	} {
		out, stderr, code := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: tc.keep, MonitorFD: -1}, files: tc.files, env: probe("fds")}.run(t)
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Errorf("keep %d: the plugin saw descriptors %q (exit %d, stderr %q), want %s: the shim's own and undeclared ones must be closed", tc.keep, out, code, stderr, tc.want)
		}
	}
}

func TestShimSearchesPATHLikeLookPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(self(t), filepath.Join(dir, "shimprobe")); err != nil {
		t.Fatal(err)
	}
	env := append(probe("getpid"), "PATH=relative/dir:/nonexistent:"+dir)
	out, stderr, code := shimRun{cfg: &Config{Args: []string{"shimprobe"}, KeepFDs: 3, MonitorFD: -1}, env: env}.run(t)
	if code != 0 || !strings.HasPrefix(out, "pid ") {
		t.Errorf("shimprobe in PATH: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, stderr, code = shimRun{cfg: &Config{Args: []string{"no-such-plugin"}, KeepFDs: 3, MonitorFD: -1}, env: env}.run(t)
	oneLine(t, stderr, code, "exec", `process.args[0] "no-such-plugin": not found in PATH`)
	_, stderr, code = shimRun{cfg: &Config{Args: []string{"shimprobe"}, KeepFDs: 3, MonitorFD: -1}, env: probe("getpid")}.run(t)
	oneLine(t, stderr, code, "exec", "PATH is not set")
}

func TestShimLoadsTheSeccompProgram(t *testing.T) {
	cfg := &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1,
		Seccomp: &Seccomp{Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))}}
	out, stderr, code := shimRun{cfg: cfg, env: probe("getpid")}.run(t)
	if code != 0 || strings.TrimSpace(out) != "denied EPERM" {
		t.Errorf("getpid under a filter denying it: %q (exit %d, stderr %q), want denied EPERM", out, code, stderr)
	}
	// Control: without the filter the same probe gets its pid.
	out, _, _ = shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1}, env: probe("getpid")}.run(t)
	if !strings.HasPrefix(out, "pid ") {
		t.Errorf("getpid without a filter: %q", out)
	}
}

// capMask is the bit mask of caps, as /proc/PID/status shows sets.
func capMask(caps ...uintptr) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}

// TestShimLoadsTheFilterWithoutNoNewPrivs is the case of a bundle that
// podman, containerd or the OCI suite sends: a seccomp profile and no
// process.noNewPrivileges. The kernel then loads a filter only for a
// process holding CAP_SYS_ADMIN, which libcontainer leaves the shim; the
// shim loads the filter and only then takes the process to the
// configured capabilities, so the plugin runs filtered and without
// CAP_SYS_ADMIN. As root (who gets the bounding set at exec) and as nobody
// (who keeps only ambient capabilities).
func TestShimLoadsTheFilterWithoutNoNewPrivs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the shim must start holding CAP_SYS_ADMIN without no_new_privs")
	}
	deny := &Seccomp{Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))}
	plugin := selfForAll(t)
	some := capMask(unix.CAP_CHOWN, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE)
	nbs := capMask(unix.CAP_NET_BIND_SERVICE)
	for _, tc := range []struct {
		name    string
		caps    Caps
		cred    *syscall.Credential
		ambient []uintptr
		want    []string
	}{
		{"root", Caps{Effective: some, Permitted: some, Bounding: some}, nil, nil, []string{
			fmt.Sprintf("CapInh: %016x", 0), fmt.Sprintf("CapPrm: %016x", some), fmt.Sprintf("CapEff: %016x", some),
			fmt.Sprintf("CapBnd: %016x", some), fmt.Sprintf("CapAmb: %016x", 0),
		}},
		{"nobody with ambient", Caps{Effective: nbs, Permitted: nbs, Inheritable: nbs, Ambient: nbs, Bounding: nbs | capMask(unix.CAP_CHOWN)},
			&syscall.Credential{Uid: 65534, Gid: 65534}, []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE}, []string{
				fmt.Sprintf("CapInh: %016x", nbs), fmt.Sprintf("CapPrm: %016x", nbs), fmt.Sprintf("CapEff: %016x", nbs),
				fmt.Sprintf("CapBnd: %016x", nbs|capMask(unix.CAP_CHOWN)), fmt.Sprintf("CapAmb: %016x", nbs),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caps := tc.caps
			cfg := &Config{Args: []string{plugin}, KeepFDs: 3, MonitorFD: -1, Seccomp: deny, Caps: &caps}
			out, stderr, code := shimRun{cfg: cfg, env: probe("caps"), cred: tc.cred, ambient: tc.ambient}.run(t)
			want := strings.Join(append(tc.want, "NoNewPrivs: 0", "Seccomp: 2", "getpid denied EPERM"), "\n") + "\n"
			if code != 0 || out != want {
				t.Errorf("the plugin got (exit %d, stderr %q):\n%s\nwant:\n%s", code, stderr, out, want)
			}
		})
	}
	// Without CAP_SYS_ADMIN (nobody, no ambient set) the filter cannot be
	// loaded: the shim says so and the plugin never runs.
	all := Caps{Bounding: ^uint64(0)}
	_, stderr, code := shimRun{cfg: &Config{Args: []string{plugin}, KeepFDs: 3, MonitorFD: -1, Seccomp: deny, Caps: &all},
		env: probe("caps"), cred: &syscall.Credential{Uid: 65534, Gid: 65534}}.run(t)
	oneLine(t, stderr, code, "seccomp", "without no_new_privs it needs CAP_SYS_ADMIN): permission denied (EACCES)")
}

func TestShimAppliesLandlock(t *testing.T) {
	abi, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1)
	if e != 0 || int(abi) < 1 {
		t.Skipf("this kernel has no Landlock (%v): nothing to enforce", e)
	}
	work := t.TempDir()
	allowed, denied := filepath.Join(work, "allowed"), filepath.Join(work, "denied")
	for _, d := range []string{allowed, denied} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ro := uint64(AccessFSExecute | AccessFSReadFile | AccessFSReadDir)
	rules := []LandlockRule{
		{Path: filepath.Dir(self(t)), Access: ro}, // the plugin itself
		{Path: allowed, Access: ro},
		{Path: "/nonexistent/skipped", Access: ro},
		// A directory rule's rights on a file: only the file rights stay.
		{Path: "/dev/null", Access: AccessFSAll},
	}
	for _, d := range []string{"/usr", "/lib", "/lib64", "/etc", "/proc"} {
		rules = append(rules, LandlockRule{Path: d, Access: ro})
	}
	ll := &Landlock{HandledFS: AccessFSAll, Scoped: ScopeAbstractUnixSocket | ScopeSignal, Rules: rules}
	for file, want := range map[string]string{filepath.Join(allowed, "f"): "ok", filepath.Join(denied, "f"): "denied EACCES"} {
		out, stderr, code := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1, Landlock: ll}, env: probe("read:" + file)}.run(t)
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("read %s under Landlock: %q (exit %d, stderr %q), want %s", file, out, code, stderr, want)
		}
	}
	// Control: the denied file is readable without the ruleset.
	out, _, _ := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1}, env: probe("read:" + filepath.Join(denied, "f"))}.run(t)
	if strings.TrimSpace(out) != "ok" {
		t.Errorf("read without Landlock: %q, want ok", out)
	}
}

// busybox is a static program that runs under any rlimit, unlike a cgo
// test binary (glibc's pthread_create fails under RLIMIT_AS 1 GiB with a
// 9 GiB stack).
const busybox = "/bin/busybox"

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s is missing: install Debian's busybox-static (make deps)", busybox)
	}
}

func TestShimAppliesRlimitsLast(t *testing.T) {
	needBusybox(t)
	cfg := &Config{Args: []string{busybox, "sh", "-c", "ulimit -v; ulimit -s; ulimit -Hs"}, KeepFDs: 3, MonitorFD: -1,
		Rlimits: []Rlimit{
			{Resource: unix.RLIMIT_AS, Soft: 1 << 30, Hard: 1 << 30},
			{Resource: unix.RLIMIT_STACK, Soft: 9 << 30, Hard: unix.RLIM_INFINITY},
		}}
	out, stderr, code := shimRun{cfg: cfg}.run(t)
	if code != 0 || out != "1048576\n9437184\nunlimited\n" {
		t.Errorf("limits seen by the plugin: %q (exit %d, stderr %q), want AS 1048576 KiB, stack 9437184 KiB soft, unlimited hard", out, code, stderr)
	}
}

func TestShimFailsClosedWithOneLine(t *testing.T) {
	invalid := make([]byte, 8) // opcode 0 with K beyond seccomp_data: the kernel refuses it
	binary.NativeEndian.PutUint16(invalid, unix.BPF_LD|unix.BPF_W|unix.BPF_ABS)
	binary.NativeEndian.PutUint32(invalid[4:], 4096)
	for _, tc := range []struct {
		name, layer, detail string
		cfg                 *Config
		cred                *syscall.Credential
	}{
		{"missing executable", "exec", `process.args[0] "/no/such/plugin": no such file or directory (ENOENT)`,
			&Config{Args: []string{"/no/such/plugin"}, KeepFDs: 3, MonitorFD: -1}, nil},
		{"invalid program", "seccomp", "seccomp(SECCOMP_SET_MODE_FILTER): invalid argument (EINVAL)",
			&Config{Args: []string{"/bin/true"}, KeepFDs: 3, MonitorFD: -1, Seccomp: &Seccomp{Program: invalid}}, nil},
		// Raising a hard limit needs CAP_SYS_RESOURCE, which nobody lacks.
		{"rlimit raise", "rlimits", "process.rlimits RLIMIT_NOFILE",
			&Config{Args: []string{"/bin/true"}, KeepFDs: 3, MonitorFD: -1, Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 64, Hard: 1 << 40}}},
			&syscall.Credential{Uid: 65534, Gid: 65534}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cred != nil && os.Geteuid() != 0 {
				t.Skip("needs root to run the shim as nobody")
			}
			_, stderr, code := shimRun{cfg: tc.cfg, cred: tc.cred}.run(t)
			oneLine(t, stderr, code, tc.layer, tc.detail)
		})
	}
}

// TestShimChecksEachBindMount: the shim runs the plugin only when each bind
// mount point shows the file create checked; a file swapped in (here a
// directory where the record names another, and a symbolic link, which the
// check does not follow) fails with one line naming the path.
func TestShimChecksEachBindMount(t *testing.T) {
	dir := t.TempDir()
	checked, other := filepath.Join(dir, "checked"), filepath.Join(dir, "other")
	for _, d := range []string{checked, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(checked, link); err != nil {
		t.Fatal(err)
	}
	identity := func(path string) Bind {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return Bind{Path: path, Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev), Ino: st.Ino}
	}
	ok := identity(checked)
	swapped := identity(checked)
	swapped.Path = other
	followed := identity(checked)
	followed.Path = link
	out, stderr, code := shimRun{cfg: &Config{Args: []string{"/bin/echo", "ran"}, KeepFDs: 3, MonitorFD: -1, Binds: []Bind{ok}}}.run(t)
	if code != 0 || strings.TrimSpace(out) != "ran" {
		t.Fatalf("the checked directory: exit %d, out %q, stderr %q; want the plugin run", code, out, stderr)
	}
	for _, b := range []Bind{swapped, followed} {
		out, stderr, code := shimRun{cfg: &Config{Args: []string{"/bin/echo", "ran"}, KeepFDs: 3, MonitorFD: -1, Binds: []Bind{ok, b}}}.run(t)
		if out != "" {
			t.Errorf("%s: the plugin ran (%q)", b.Path, out)
		}
		oneLine(t, stderr, code, "bind mounts", b.Path+" shows another file than the host path create checked")
	}
}

func TestShimRefusesAForeignConfiguration(t *testing.T) {
	exe, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := sealedMemfd("garbage", []byte("{\"args\":[\"/bin/sh\"]}\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	var errOut bytes.Buffer
	cmd := &exec.Cmd{Path: "/proc/self/fd/3", Args: []string{"/proc/self/fd/3", "4"}, ExtraFiles: []*os.File{exe, garbage}, Stderr: &errOut}
	err = cmd.Run()
	oneLine(t, errOut.String(), cmd.ProcessState.ExitCode(), "config", "bad magic")
	if err == nil {
		t.Error("the shim ran a configuration without its magic")
	}
}

// monitorPair returns the monitor's end (SO_PASSCRED set) and the shim's.
func monitorPair(t testing.TB) (own, shimEnd *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	own, shimEnd = os.NewFile(uintptr(fds[0]), "monitor"), os.NewFile(uintptr(fds[1]), "shim")
	t.Cleanup(func() { own.Close(); shimEnd.Close() })
	return own, shimEnd
}

// TestShimHandsTheListenerToTheMonitor runs the whole handover: the shim
// loads a filter that notifies getpid, monitor.AcquireListener takes the
// listener out of it, and the answer the test gives is what the plugin sees.
func TestShimHandsTheListenerToTheMonitor(t *testing.T) {
	own, shimEnd := monitorPair(t)
	cfg := &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: 3,
		Seccomp: &Seccomp{Flags: FlagNewListener, Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_USER_NOTIF)}}
	served := make(chan error, 1)
	out, stderr, code := shimRun{cfg: cfg, files: []*os.File{shimEnd}, env: probe("getpid"), started: func(t testing.TB, pid int) {
		shimEnd.Close()
		go func() { served <- answerAll(own, pid, 4242) }()
	}}.run(t)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if code != 0 || strings.TrimSpace(out) != "pid 4242" {
		t.Errorf("getpid answered by the monitor: %q (exit %d, stderr %q), want pid 4242", out, code, stderr)
	}
}

// answerAll acquires the listener and answers every notification (the
// plugin's getpid; the Go runtime may call it too) with val until the
// plugin is gone, checking that each comes from one of pid's threads.
func answerAll(sock *os.File, pid int, val int64) error {
	listener, err := monitor.AcquireListener(sock)
	if err != nil {
		return err
	}
	defer unix.Close(listener)
	for {
		fds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 20000); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return nil // POLLHUP: the plugin has exited
		}
		// struct seccomp_notif: id u64, pid u32, flags u32, data (64 bytes).
		var req [80]byte
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
			if e == unix.ENOENT || e == unix.EINTR {
				continue
			}
			return fmt.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %w", e)
		}
		// The notification names the calling thread.
		if got := binary.NativeEndian.Uint32(req[8:]); !exists(fmt.Sprintf("/proc/%d/task/%d", pid, got)) {
			return fmt.Errorf("notification from thread %d, which is not one of the plugin's (pid %d)", got, pid)
		}
		// struct seccomp_notif_resp: id u64, val s64, error s32, flags u32.
		var resp [24]byte
		copy(resp[:8], req[:8])
		binary.NativeEndian.PutUint64(resp[8:], uint64(val))
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp[0]))); e != 0 && e != unix.ENOENT {
			return fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %w", e)
		}
	}
}

// TestShimWaitsNonDumpableForTheMonitor follows the handover step by step:
// the announcement names the listener's descriptor, the shim (running as
// nobody) is not dumpable while it waits (its /proc files belong to root,
// so a plugin beside it cannot reach its descriptors), pidfd_getfd yields a
// seccomp listener, and the shim goes on only once the monitor writes.
func TestShimWaitsNonDumpableForTheMonitor(t *testing.T) {
	needBusybox(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the shim as nobody")
	}
	own, shimEnd := monitorPair(t)
	cfg := &Config{Args: []string{busybox, "true"}, KeepFDs: 3, MonitorFD: 3,
		Seccomp: &Seccomp{Flags: FlagNewListener, Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_USER_NOTIF)}}
	_, stderr, code := shimRun{cfg: cfg, files: []*os.File{shimEnd}, cred: &syscall.Credential{Uid: 65534, Gid: 65534}, nnp: true,
		started: func(t testing.TB, pid int) {
			shimEnd.Close()
			buf, oob := make([]byte, 64), make([]byte, 64)
			n, oobn, _, _, err := unix.Recvmsg(int(own.Fd()), buf, oob, 0)
			if err != nil || n != 12 || string(buf[:8]) != "PBLISTEN" {
				t.Fatalf("announcement: %q, %v", buf[:n], err)
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			if len(msgs) != 1 {
				t.Fatalf("announcement without credentials")
			}
			cred, err := unix.ParseUnixCredentials(&msgs[0])
			if err != nil || int(cred.Pid) != pid {
				t.Fatalf("announcement credentials %+v, %v: want pid %d", cred, err, pid)
			}
			nr := int(binary.NativeEndian.Uint32(buf[8:]))
			if nr != 4 { // 0-2, the socket at 3: the lowest free is 4
				t.Errorf("announced listener number %d, want 4", nr)
			}
			pidfd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			var listener int
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				if listener, err = unix.PidfdGetfd(pidfd, nr, 0); err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("pidfd_getfd: %v", err)
			}
			defer unix.Close(listener)
			if link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", listener)); link != "anon_inode:seccomp notify" {
				t.Errorf("descriptor %d of the shim is %q, want the seccomp listener", nr, link)
			}
			var st unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/status", pid), &st); err != nil || st.Uid != 0 {
				t.Errorf("/proc/PID/status of the waiting shim (uid 65534) belongs to uid %d (%v), want 0: the shim is dumpable", st.Uid, err)
			}
			// Still waiting, in read(2), until the monitor writes.
			var sc string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
				if sc = strings.Fields(string(data) + " ?")[0]; sc == strconv.Itoa(unix.SYS_READ) {
					break
				}
			}
			if sc != strconv.Itoa(unix.SYS_READ) {
				t.Errorf("the shim is in syscall %s, want read(2) while it waits for the monitor", sc)
			}
			if _, err := own.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
		}}.run(t)
	if code != 0 {
		t.Errorf("the plugin did not run after the handover: exit %d, stderr %q", code, stderr)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestShimFailsWhenTheMonitorGoesAway(t *testing.T) {
	own, shimEnd := monitorPair(t)
	cfg := &Config{Args: []string{"/bin/true"}, KeepFDs: 3, MonitorFD: 3,
		Seccomp: &Seccomp{Flags: FlagNewListener, Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_USER_NOTIF)}}
	_, stderr, code := shimRun{cfg: cfg, files: []*os.File{shimEnd}, started: func(t testing.TB, pid int) {
		shimEnd.Close()
		buf := make([]byte, 64)
		if _, err := own.Read(buf); err != nil {
			t.Fatal(err)
		}
		own.Close()
	}}.run(t)
	oneLine(t, stderr, code, "monitor", "the monitor went away without taking the seccomp listener")
}

// BenchmarkShimStart times starting busybox true directly and through the
// shim with each layer, from fork to exit, outside any container.
func BenchmarkShimStart(b *testing.B) {
	if _, err := os.Stat(busybox); err != nil {
		b.Skip("needs " + busybox)
	}
	seccomp := &Seccomp{Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))}
	ro := uint64(AccessFSExecute | AccessFSReadFile | AccessFSReadDir)
	ll := &Landlock{HandledFS: AccessFSAll, Scoped: ScopeAbstractUnixSocket | ScopeSignal, Rules: []LandlockRule{{Path: "/", Access: ro}, {Path: "/tmp", Access: AccessFSAll}}}
	args := []string{busybox, "true"}
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := exec.Command(busybox, "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, cfg := range map[string]*Config{
		"shim":                  {Args: args, KeepFDs: 3, MonitorFD: -1},
		"shim+seccomp":          {Args: args, KeepFDs: 3, MonitorFD: -1, Seccomp: seccomp},
		"shim+landlock+seccomp": {Args: args, KeepFDs: 3, MonitorFD: -1, Seccomp: seccomp, Landlock: ll},
	} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, stderr, code := (shimRun{cfg: cfg}).run(b); code != 0 {
					b.Fatal(stderr)
				}
			}
		})
	}
	b.Run("shim+landlock+seccomp+handover", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			own, shimEnd := monitorPair(b)
			cfg := &Config{Args: args, KeepFDs: 3, MonitorFD: 3, Landlock: ll,
				Seccomp: &Seccomp{Flags: FlagNewListener, Program: bpf(unix.SYS_GETPID, unix.SECCOMP_RET_USER_NOTIF)}}
			served := make(chan error, 1)
			_, stderr, code := shimRun{cfg: cfg, files: []*os.File{shimEnd}, started: func(t testing.TB, pid int) {
				shimEnd.Close()
				go func() {
					l, err := monitor.AcquireListener(own)
					if err == nil {
						unix.Close(l)
					}
					served <- err
				}()
			}}.run(b)
			if err := <-served; err != nil || code != 0 {
				b.Fatal(err, stderr)
			}
		}
	})
}

// The trace records every step in order, within the run, and needs no call
// under the plugin's filter: a filter that kills clock_gettime(2) (the
// call the shim times its steps with) still lets the plugin run.
func TestShimTracesItsStepsWithoutACallUnderTheFilter(t *testing.T) {
	needBusybox(t)
	tf, err := TraceFile()
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	ll := &Landlock{HandledFS: AccessFSAll, Rules: []LandlockRule{{Path: "/", Access: AccessFSExecute | AccessFSReadFile | AccessFSReadDir}}}
	cfg := &Config{Args: []string{busybox, "true"}, KeepFDs: 3, MonitorFD: -1, TraceFD: 3, Landlock: ll,
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_CORE, Soft: 0, Hard: 0}},
		Seccomp: &Seccomp{Program: bpf(unix.SYS_CLOCK_GETTIME, unix.SECCOMP_RET_KILL_PROCESS)}}
	before := time.Now()
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	t0 := ts.Nano()
	_, stderr, code := shimRun{cfg: cfg, files: []*os.File{tf}}.run(t)
	t1 := t0 + int64(time.Since(before))
	if code != 0 {
		t.Fatalf("exit %d (stderr %q): the shim made a call under the filter (SIGSYS is 159) or failed", code, stderr)
	}
	recs, err := ReadTrace(tf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	last := t0
	for _, r := range recs {
		got = append(got, r.Stage)
		if r.T < last || r.T > t1 {
			t.Errorf("%s at %d: outside the run [%d, %d] or before the previous step", r.Stage, r.T, t0, t1)
		}
		last = r.T
	}
	want := []string{traceStages[1], traceStages[2], traceStages[3], traceStages[4], traceStages[5], traceStages[6]}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("trace stages %q, want %q", got, want)
	}
	// The plugin never holds the trace descriptor.
	out, _, code := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1, TraceFD: 3}, files: []*os.File{tf}, env: probe("fds")}.run(t)
	if code != 0 || strings.TrimSpace(out) != "0,1,2" {
		t.Errorf("the plugin saw descriptors %q, want 0,1,2", out)
	}
}

// Two plugins in one network namespace, each in its own Landlock domain
// with abstract unix sockets scoped (ABI 6): one cannot connect to the
// other's socket, while a process outside any domain still can. Scoping
// does not separate the names, though: the second plugin cannot bind the
// name the first holds. That is why plugbox lets only plugins that can make
// no socket at all share a network namespace (see sandbox/netns_linux.go).
func TestLandlockScopingBetweenPluginsInOneNetworkNamespace(t *testing.T) {
	abi, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1)
	if e != 0 || int(abi) < 6 {
		t.Skipf("this kernel's Landlock ABI is %d (%v): abstract unix socket scoping needs ABI 6", int(abi), e)
	}
	scoped := &Landlock{Scoped: ScopeAbstractUnixSocket}
	name := fmt.Sprintf("plugbox-scope-test-%d", os.Getpid())
	plugin := func(probeName string, ll *Landlock) string {
		out, stderr, code := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1, Landlock: ll}, env: probe(probeName + ":" + name)}.run(t)
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", probeName, code, stderr)
		}
		return strings.TrimSpace(out)
	}
	var fromOtherPlugin, fromOutside, bindAgain string
	listener := shimRun{cfg: &Config{Args: []string{self(t)}, KeepFDs: 3, MonitorFD: -1, Landlock: scoped}, env: probe("abstract-listen:" + name),
		started: func(t testing.TB, pid int) {
			defer unix.Kill(pid, unix.SIGKILL)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if data, _ := os.ReadFile("/proc/net/unix"); strings.Contains(string(data), "@"+name) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the listening plugin never bound its socket")
				}
			}
			fromOtherPlugin = plugin("abstract-connect", scoped)
			fromOutside = plugin("abstract-connect", nil)
			bindAgain = plugin("abstract-bind", scoped)
		}}
	listener.run(t)
	if fromOtherPlugin != "denied EPERM" {
		t.Errorf("a plugin in another Landlock domain connecting to the first's abstract socket: %q, want denied EPERM", fromOtherPlugin)
	}
	if fromOutside != "ok" {
		t.Errorf("control: an unscoped process connecting: %q, want ok", fromOutside)
	}
	if bindAgain != "denied EADDRINUSE" {
		t.Errorf("a plugin in another domain binding the first's name: %q, want denied EADDRINUSE (the names are shared)", bindAgain)
	}
}
