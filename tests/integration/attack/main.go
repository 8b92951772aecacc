//go:build linux

// Command attack probes the hardening layers of the sandbox it runs in. The
// integration tests install it as a plugin in a plugbox-authored bundle and
// assert, from its output, that every layer holds; run on the host as root
// it shows the same probes succeeding, which proves they detect what they
// claim.
//
// Subcommands:
//
//	attack probe [flags]        run every probe, one "PROBE <name> <result>" line each
//	attack forkbomb [MAX]       fork until the kernel refuses (or MAX children)
//	attack memhog [MAXMB]       let a child allocate and touch memory until it is killed
//	attack x32                  make an x32 system call (alone: a filter may kill for it)
//	attack sendfds MAX          copy fd 3 onto every number 3..MAX and sendmsg SCM_RIGHTS on it
//	attack syscall NR...        make each raw system call NR with zero arguments
//	attack noop                 exit 0 (the target of the noexec probe)
//	attack hold                 sleep for an hour (a container to exec into)
//
// A result is "ok [detail]" when the call succeeded, "denied ERRNO [stage]"
// when it failed with ERRNO, "value V" for a read-out, "absent", "empty",
// "readable N" for files, or "error ..." when the probe itself broke.
// Probes use raw system calls so an errno comes back unchanged, and every
// probe is bounded in time.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "probe":
		probeMain(os.Args[2:])
	case "forkbomb":
		forkbombMain(os.Args[2:])
	case "memhog":
		memhogMain(os.Args[2:])
	case "memhog-child":
		memhogChild(os.Args[2:])
	case "x32":
		x32Main()
	case "sendfds":
		sendfdsMain(os.Args[2:])
	case "syscall":
		syscallMain(os.Args[2:])
	case "noop":
		os.Exit(0)
	case "hold":
		// Stay alive for processes exec'd into the sandbox.
		time.Sleep(time.Hour)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: attack probe [-read FILE] [-write DIR] [-absent PATH,...] [-fs=false] [-outside]\n       attack forkbomb [MAX]\n       attack memhog [MAXMB]\n       attack x32\n       attack sendfds MAX\n       attack syscall NR...\n       attack noop\n       attack hold")
	os.Exit(2)
}

// report prints one probe line.
func report(name, result string) {
	fmt.Printf("PROBE %s %s\n", name, result)
}

// errResult renders a raw syscall outcome.
func errResult(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return "denied " + errnoName(e)
}

// errnoName returns the symbolic name of e ("EPERM"), or its number.
func errnoName(e syscall.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "ERRNO" + strconv.Itoa(int(e))
}

// asErrno extracts the errno from err (0 when err is nil).
func asErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// probeFlags are the inputs of "attack probe".
type probeFlags struct {
	readFile string
	writeDir string
	absent   string
	fs       bool
	outside  bool
}

func probeMain(args []string) {
	// The descriptor list comes first, before the Go runtime opens its own
	// (the netpoller's epoll and event fds).
	fds := listFDs()
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	var f probeFlags
	fs.StringVar(&f.readFile, "read", "", "a file in the manifest's read dir: must be readable, not writable")
	fs.StringVar(&f.writeDir, "write", "", "the manifest's write dir: must be writable, not executable")
	fs.StringVar(&f.absent, "absent", "", "comma-separated host paths that must not be visible")
	fs.BoolVar(&f.fs, "fs", true, "run the filesystem probes (they write to / and /proc/sys: never on a host)")
	fs.BoolVar(&f.outside, "outside", false, "connect to 10.255.255.1:80, only when the network namespace has no route")
	fs.Parse(args)

	report("fds", fds)
	probeFD3()
	probeStatus()
	probeEnv()
	probeSyscalls()
	if f.fs {
		probeFS(&f)
	}
	probeNet(f.outside)
	report("done", "ok")
}

// listFDs lists /proc/self/fd with raw syscalls, leaving out the directory's
// own descriptor.
func listFDs() string {
	path, _ := unix.BytePtrFromString("/proc/self/fd")
	r, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return "error open /proc/self/fd: " + errnoName(e)
	}
	dirfd := int(r)
	defer unix.Close(dirfd)
	var fds []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dirfd, buf)
		if err != nil {
			return "error getdents: " + err.Error()
		}
		if n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd != dirfd {
				fds = append(fds, fd)
			}
		}
	}
	sort.Ints(fds)
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = strconv.Itoa(fd)
	}
	return "value " + strings.Join(s, ",")
}

// probeFD3 reads the start of descriptor 3 without moving its offset.
func probeFD3() {
	buf := make([]byte, 64)
	n, err := unix.Pread(3, buf, 0)
	if err != nil {
		report("fd.3", errResult(asErrno(err)))
		return
	}
	report("fd.3", "ok "+strconv.Quote(string(buf[:n])))
}

// probeStatus reports the capability sets, no_new_privs and seccomp mode.
func probeStatus() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		report("status", "error "+err.Error())
		return
	}
	want := map[string]bool{"CapInh": true, "CapPrm": true, "CapEff": true, "CapBnd": true, "CapAmb": true,
		"NoNewPrivs": true, "Seccomp": true, "Seccomp_filters": true, "Uid": true, "Gid": true}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && want[k] {
			report("status."+k, "value "+strings.Join(strings.Fields(v), ","))
		}
	}
}

func probeEnv() {
	for _, k := range []string{"LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"} {
		v, ok := os.LookupEnv(k)
		if !ok {
			report("env."+k, "absent")
			continue
		}
		report("env."+k, "value "+v)
	}
}

// Linux constants x/sys/unix does not name.
const (
	keySpecSessionKeyring = ^uintptr(2) // KEY_SPEC_SESSION_KEYRING = -3
	keySpecProcessKeyring = ^uintptr(1) // KEY_SPEC_PROCESS_KEYRING = -2
	readImpliesExec       = 0x0400000
	personaQuery          = 0xffffffff
	x32SyscallBit         = 0x40000000
	landlockCreateVersion = 1            // LANDLOCK_CREATE_RULESET_VERSION
	atFDCWD               = ^uintptr(99) // AT_FDCWD = -100
)

// probeSyscalls tries every call the sandbox's seccomp profile must refuse,
// plus a few it must allow (the positive controls). Paths that do not exist
// make privileged calls fail harmlessly on a host (ENOENT, EINVAL) while a
// seccomp denial returns EPERM before any lookup.
func probeSyscalls() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raw := func(name string, trap uintptr, a ...uintptr) {
		var v [6]uintptr
		copy(v[:], a)
		r, _, e := unix.RawSyscall6(trap, v[0], v[1], v[2], v[3], v[4], v[5])
		if e == 0 && isFDCall(name) {
			unix.Close(int(r))
		}
		report(name, errResult(e))
	}
	nonexist := bptr("/nonexistent-plugbox-attack")
	empty := bptr("")

	// Positive controls: the profile is not deny-all.
	raw("getpid", unix.SYS_GETPID)
	raw("personality.query", unix.SYS_PERSONALITY, personaQuery)
	raw("socket.unix", unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)

	report("ptrace.traceme", childCall(0, unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0))
	bpfAttr := [5]uint32{unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0} // map_type, key_size, value_size, max_entries, flags
	raw("bpf.map_create", unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&bpfAttr)), unsafe.Sizeof(bpfAttr))
	raw("keyctl.get_keyring_id", unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, keySpecSessionKeyring, 0)
	keyType, keyDesc, keyData := bptr("user"), bptr("plugbox-attack"), []byte("x")
	raw("add_key", unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(keyType)), uintptr(unsafe.Pointer(keyDesc)), uintptr(unsafe.Pointer(&keyData[0])), 1, keySpecProcessKeyring)
	tmpfs := bptr("tmpfs")
	raw("mount", unix.SYS_MOUNT, uintptr(unsafe.Pointer(tmpfs)), uintptr(unsafe.Pointer(nonexist)), uintptr(unsafe.Pointer(tmpfs)), 0, 0)
	raw("umount2", unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(nonexist)), 0)
	raw("chroot", unix.SYS_CHROOT, uintptr(unsafe.Pointer(nonexist)))
	raw("pivot_root", unix.SYS_PIVOT_ROOT, uintptr(unsafe.Pointer(nonexist)), uintptr(unsafe.Pointer(nonexist)))
	raw("swapon", unix.SYS_SWAPON, uintptr(unsafe.Pointer(nonexist)), 0)
	report("unshare.newuser", childCall(0, unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0))
	report("unshare.newns", childCall(0, unix.SYS_UNSHARE, unix.CLONE_NEWNS, 0, 0))
	report("clone.newnet", childCall(unix.CLONE_NEWNET, unix.SYS_GETPID, 0, 0, 0))
	report("clone.newuser", childCall(unix.CLONE_NEWUSER, unix.SYS_GETPID, 0, 0, 0))
	report("setns.net", probeSetns())
	raw("userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC)
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
	raw("perf_event_open", unix.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), unix.PERF_FLAG_FD_CLOEXEC)
	raw("init_module", unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(empty)))
	raw("finit_module", unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(empty)), 0)
	// More segments than KEXEC_SEGMENT_MAX: EINVAL on a host, never a load
	// or an unload.
	raw("kexec_load", unix.SYS_KEXEC_LOAD, 0, 1000, 0, 0)
	// Longer than __NEW_UTS_LEN: EINVAL on a host, never a rename.
	raw("sethostname", unix.SYS_SETHOSTNAME, uintptr(unsafe.Pointer(tmpfs)), 1000)
	// A wrong magic number: EINVAL on a host.
	raw("reboot", unix.SYS_REBOOT, 0, 0, 0, 0)
	raw("syslog", unix.SYS_SYSLOG, 10, 0, 0) // SYSLOG_ACTION_SIZE_BUFFER
	var ioParams [120]byte
	raw("io_uring_setup", unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&ioParams[0])))
	var word uint64 = 42
	local := unix.Iovec{Base: (*byte)(unsafe.Pointer(&word)), Len: 8}
	var out uint64
	dst := unix.Iovec{Base: (*byte)(unsafe.Pointer(&out)), Len: 8}
	raw("process_vm_readv", unix.SYS_PROCESS_VM_READV, uintptr(unix.Getpid()), uintptr(unsafe.Pointer(&dst)), 1, uintptr(unsafe.Pointer(&local)), 1, 0)
	raw("socket.inet", unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	raw("socket.inet6", unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	raw("socket.netlink", unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	raw("socket.packet", unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	ch := byte('x')
	raw("ioctl.tiocsti.stdin", unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&ch)))
	report("ioctl.tiocsti.pty", probeTIOCSTIPty())
	report("personality.read_implies_exec", probePersonality())
	// clone3 with a too-small struct: EINVAL on a host, ENOSYS under a
	// profile that sends libc back to clone.
	raw("clone3", unix.SYS_CLONE3, 0, 0)
	r, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, landlockCreateVersion)
	if e != 0 {
		report("landlock.abi", errResult(e))
	} else {
		report("landlock.abi", "value "+strconv.Itoa(int(r)))
	}
}

// x32Main calls getpid through the x32 ABI (the syscall number with bit 30
// set), which a profile for x86_64 must refuse: with ENOSYS or EPERM, or by
// killing the whole process. It is a subcommand of its own because of the
// kill; "x32.start" shows the program got that far.
// sendfdsMain tries to pass a descriptor out of the sandbox over the socket
// the host gave as fd 3, from every descriptor number up to MAX: a filter
// that allowed sendmsg on one number (the old listener handover) would let
// "dup2(3, N); sendmsg(N, SCM_RIGHTS)" through.
func sendfdsMain(args []string) {
	maxFD := 40
	if len(args) > 0 {
		if n, err := strconv.Atoi(args[0]); err == nil {
			maxFD = n
		}
	}
	for n := 3; n <= maxFD; n++ {
		name := "sendmsg.fd" + strconv.Itoa(n)
		if n != 3 {
			if err := unix.Dup3(3, n, 0); err != nil {
				report(name, "error dup3: "+errnoName(asErrno(err)))
				continue
			}
		}
		payload := []byte("escaped-via-fd-" + strconv.Itoa(n))
		iov := unix.Iovec{Base: &payload[0]}
		iov.SetLen(len(payload))
		rights := unix.UnixRights(0)
		msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &rights[0]}
		msg.SetControllen(len(rights))
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(n), uintptr(unsafe.Pointer(&msg)), 0)
		report(name, errResult(e))
		if n != 3 {
			unix.Close(n)
		}
	}
	report("done", "ok")
}

// syscallMain makes each raw system call with zero arguments, for the
// calls newer than the libraries (statmount 457 ... file_setattr 469).
func syscallMain(args []string) {
	report("syscall.start", "ok")
	for _, a := range args {
		nr, err := strconv.Atoi(a)
		if err != nil {
			report("syscall."+a, "error not a number")
			continue
		}
		_, _, e := unix.RawSyscall6(uintptr(nr), 0, 0, 0, 0, 0, 0)
		report("syscall."+a, errResult(e))
	}
	report("done", "ok")
}

func x32Main() {
	report("x32.start", "ok")
	if runtime.GOARCH != "amd64" {
		report("x32.getpid", "skipped not-amd64")
		return
	}
	_, _, e := unix.RawSyscall(unix.SYS_GETPID|x32SyscallBit, 0, 0, 0)
	report("x32.getpid", errResult(e))
}

// isFDCall names the probes whose success returns a descriptor to close.
func isFDCall(name string) bool {
	return strings.HasPrefix(name, "socket.") || name == "bpf.map_create" || name == "userfaultfd" ||
		name == "perf_event_open" || name == "io_uring_setup"
}

// bptr returns a NUL-terminated copy of s.
func bptr(s string) *byte {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return p
}

// forkCall forks with clone(flags|SIGCHLD); the child makes one raw call
// and exits with its errno. It runs without the Go runtime in the child:
// nosplit, no allocation, only raw syscalls.
//
//go:nosplit
func forkCall(flags, trap, a1, a2, a3 uintptr) (pid uintptr, errno syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		_, _, e2 := syscall.RawSyscall(trap, a1, a2, a3)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(e2), 0, 0)
	}
	return r, 0
}

// forkExec forks; the child calls execve(path, argv, envp) and exits with
// its errno if that fails.
//
//go:nosplit
func forkExec(path *byte, argv, envp *uintptr) (pid uintptr, errno syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		_, _, e2 := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envp)))
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(e2), 0, 0)
	}
	return r, 0
}

// forkPause forks a child that blocks in ppoll until it is killed.
//
//go:nosplit
func forkPause() (pid uintptr, errno syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		for {
			syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
		}
	}
	return r, 0
}

// blockSignals blocks every signal on the calling (locked) thread, so a
// forked child never runs a Go signal handler, and returns the old mask.
func blockSignals() (old unix.Sigset_t) {
	all := unix.Sigset_t{}
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return old
}

func restoreSignals(old unix.Sigset_t) {
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
}

// reap waits for pid and returns its wait status.
func reap(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}

// childCall runs one syscall in a forked child (for calls that refuse a
// multithreaded caller, such as unshare(CLONE_NEWUSER), or that would
// change this process) and renders the child's errno.
func childCall(flags, trap, a1, a2, a3 uintptr) string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old := blockSignals()
	pid, e := forkCall(flags, trap, a1, a2, a3)
	restoreSignals(old)
	if e != 0 {
		return "denied " + errnoName(e) + " clone"
	}
	return childResult(int(pid))
}

// childResult reaps a forkCall/forkExec child and renders its outcome.
func childResult(pid int) string {
	ws, err := reap(pid)
	switch {
	case err != nil:
		return "error wait4: " + err.Error()
	case ws.Signaled():
		return "error child killed by " + unix.SignalName(ws.Signal())
	case ws.ExitStatus() == 0:
		return "ok"
	}
	return "denied " + errnoName(syscall.Errno(ws.ExitStatus()))
}

func probeSetns() string {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "error open /proc/self/ns/net: " + err.Error()
	}
	defer unix.Close(fd)
	// Joining the network namespace we are already in changes nothing.
	_, _, e := unix.RawSyscall(unix.SYS_SETNS, uintptr(fd), unix.CLONE_NEWNET, 0)
	return errResult(e)
}

// probeTIOCSTI opens a pty master and pushes a byte into its input queue.
func probeTIOCSTIPty() string {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " open-ptmx"
	}
	defer unix.Close(fd)
	ch := byte('x')
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&ch)))
	return errResult(e)
}

// probePersonality sets READ_IMPLIES_EXEC and, if that worked, restores the
// old persona at once.
func probePersonality() string {
	old, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, personaQuery, 0, 0)
	if e != 0 {
		return "error query: " + errnoName(e)
	}
	_, _, e = unix.RawSyscall(unix.SYS_PERSONALITY, old|readImpliesExec, 0, 0)
	if e == 0 {
		unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
	}
	return errResult(e)
}

// maskedPaths are the kernel files a sandbox must hide.
var maskedPaths = []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
	"/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/interrupts", "/sys/firmware"}

// probeFS checks the mount, masking, bind and Landlock layers.
func probeFS(f *probeFlags) {
	report("fs.root.create", createFile("/plugbox-attack-probe"))
	report("fs.root.mkdir", mkdirProbe("/plugbox-attack-dir"))
	report("fs.root.write-exe", openWrite("/attack"))
	report("fs.procsys.hostname", openWrite("/proc/sys/kernel/hostname"))
	report("fs.procsys.core_pattern", openWrite("/proc/sys/kernel/core_pattern"))
	report("fs.sysrq-trigger", openWrite("/proc/sysrq-trigger"))
	for _, p := range maskedPaths {
		report("mask."+p, readProbe(p))
	}
	report("fs.sys", readProbe("/sys"))
	report("host./etc/shadow", statProbe("/etc/shadow"))
	for _, p := range strings.Split(f.absent, ",") {
		if p != "" {
			report("host."+p, statProbe(p))
		}
	}
	if f.readFile != "" {
		if data, err := os.ReadFile(f.readFile); err != nil {
			report("read.file", errResult(asErrno(err)))
		} else {
			report("read.file", "ok "+strconv.Quote(string(data)))
		}
		report("read.write", openWrite(f.readFile))
		report("read.create", createFile(filepath.Join(filepath.Dir(f.readFile), "from-sandbox.txt")))
	}
	if f.writeDir != "" {
		report("write.create", writeReadBack(filepath.Join(f.writeDir, "from-sandbox.txt")))
		report("write.exec", execScript(filepath.Join(f.writeDir, "script")))
	}
	report("tmp.create", writeReadBack("/tmp/plugbox-attack-probe"))
	report("devshm.create", writeReadBack("/dev/shm/plugbox-attack-probe"))
	// Writable by their mode but outside the Landlock policy's write paths.
	report("landlock.proc-self-comm", openWrite("/proc/self/comm"))
	report("landlock.proc-self-oom_score_adj", openWrite("/proc/self/oom_score_adj"))
	report("landlock.mqueue-create", createFile("/dev/mqueue/plugbox-attack-probe"))
}

// mkdirProbe creates directory p and removes it again.
func mkdirProbe(p string) string {
	if err := unix.Mkdir(p, 0o755); err != nil {
		return errResult(asErrno(err))
	}
	unix.Rmdir(p)
	return "ok"
}

// openWrite opens p for writing (without truncating) and closes it.
func openWrite(p string) string {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errResult(asErrno(err))
	}
	unix.Close(fd)
	return "ok"
}

// createFile creates p (which must not exist) and removes it again.
func createFile(p string) string {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return errResult(asErrno(err))
	}
	unix.Close(fd)
	unix.Unlink(p)
	return "ok"
}

// writeReadBack writes a file, reads it back and leaves it for the host to
// check.
func writeReadBack(p string) string {
	want := "written by the attack program\n"
	if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
		return errResult(asErrno(err))
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return "error read back: " + errnoName(asErrno(err))
	}
	if string(got) != want {
		return "error read back " + strconv.Quote(string(got))
	}
	return "ok"
}

// execScript writes an executable script that runs "attack noop" and
// executes it: a noexec mount refuses with EACCES.
func execScript(p string) string {
	self, err := os.Executable()
	if err != nil {
		return "error " + err.Error()
	}
	if err := os.WriteFile(p, []byte("#!"+self+" noop\n"), 0o755); err != nil {
		return "error write script: " + errnoName(asErrno(err))
	}
	if err := os.Chmod(p, 0o755); err != nil {
		return "error chmod script: " + errnoName(asErrno(err))
	}
	path := bptr(p)
	argv := []uintptr{uintptr(unsafe.Pointer(path)), 0}
	envp := []uintptr{0}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old := blockSignals()
	pid, e := forkExec(path, &argv[0], &envp[0])
	restoreSignals(old)
	runtime.KeepAlive(path)
	if e != 0 {
		return "error clone: " + errnoName(e)
	}
	return childResult(int(pid))
}

// readProbe says whether p can be read: "absent", "empty" (a masked file or
// an empty directory), "readable N" (N bytes or entries), or "denied ERRNO".
func readProbe(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return "absent"
		}
		return errResult(asErrno(err))
	}
	if fi.IsDir() {
		ents, err := os.ReadDir(p)
		if err != nil {
			return errResult(asErrno(err))
		}
		if len(ents) == 0 {
			return "empty"
		}
		return fmt.Sprintf("readable %d", len(ents))
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return errResult(asErrno(err))
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return errResult(asErrno(err))
	}
	if n == 0 {
		return "empty"
	}
	return fmt.Sprintf("readable %d", n)
}

// statProbe says whether p exists.
func statProbe(p string) string {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if asErrno(err) == unix.ENOENT {
			return "absent"
		}
		return errResult(asErrno(err))
	}
	return "present"
}

// probeNet checks the network layer: a TCP round trip on 127.0.0.1, the
// interfaces and, with outside, that an outside address is unreachable.
func probeNet(outside bool) {
	report("net.interfaces", netInterfaces())
	report("net.loopback.tcp", loopbackTCP())
	if !outside {
		return
	}
	report("net.outside.connect", connectOutside())
}

// netInterfaces lists the interfaces of this network namespace.
func netInterfaces() string {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return "error " + err.Error()
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	sort.Strings(names)
	return "value " + strings.Join(names, ",")
}

// loopbackTCP listens on 127.0.0.1, connects and moves a byte.
func loopbackTCP() string {
	ls, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " socket"
	}
	defer unix.Close(ls)
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ls, lo); err != nil {
		return "denied " + errnoName(asErrno(err)) + " bind"
	}
	if err := unix.Listen(ls, 1); err != nil {
		return "denied " + errnoName(asErrno(err)) + " listen"
	}
	sa, err := unix.Getsockname(ls)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " getsockname"
	}
	cs, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " socket"
	}
	defer unix.Close(cs)
	tv := unix.Timeval{Sec: 2}
	unix.SetsockoptTimeval(cs, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(cs, sa); err != nil {
		return "denied " + errnoName(asErrno(err)) + " connect"
	}
	as, _, err := unix.Accept4(ls, unix.SOCK_CLOEXEC)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " accept"
	}
	defer unix.Close(as)
	if _, err := unix.Write(cs, []byte{'p'}); err != nil {
		return "denied " + errnoName(asErrno(err)) + " write"
	}
	unix.SetsockoptTimeval(as, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 1)
	if n, err := unix.Read(as, buf); err != nil || n != 1 || buf[0] != 'p' {
		return fmt.Sprintf("error read n=%d err=%v", n, err)
	}
	return "ok"
}

// connectOutside tries 10.255.255.1:80 without a blocking wait. It refuses
// to try when this namespace has any interface but lo or any IPv4 route in
// the main table, so it can never put a packet on a real network.
func connectOutside() string {
	if ifs := netInterfaces(); ifs != "value lo" {
		return "skipped interfaces " + strings.TrimPrefix(ifs, "value ")
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "skipped cannot read /proc/net/route: " + err.Error()
	}
	if lines := strings.Split(strings.TrimSpace(string(routes)), "\n"); len(lines) > 1 {
		return fmt.Sprintf("skipped %d routes present", len(lines)-1)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "denied " + errnoName(asErrno(err)) + " socket"
	}
	defer unix.Close(fd)
	start := time.Now()
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{10, 255, 255, 1}, Port: 80})
	if err == nil {
		return "ok connected"
	}
	e := asErrno(err)
	if e == unix.EINPROGRESS {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		unix.Poll(pfd, 2000)
		soerr, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if soerr == 0 && pfd[0].Revents&unix.POLLOUT != 0 {
			return "ok connected-late"
		}
		if soerr == 0 {
			return "ok pending-after-2s"
		}
		e = syscall.Errno(soerr)
	}
	return fmt.Sprintf("denied %s %dms", errnoName(e), time.Since(start).Milliseconds())
}

// forkbombMain forks children that sleep until it has max of them or the
// kernel refuses, then kills them all and reports
// "PROBE forkbomb stopped ERRNO forked=N threads=T" (or "not-stopped").
func forkbombMain(args []string) {
	max := 4096
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			usage()
		}
		max = n
	}
	threads := threadCount()
	// No garbage collection and no allocation while at the limit: the Go
	// runtime would fail to start a thread there.
	debug.SetGCPercent(-1)
	pids := make([]uintptr, 0, max)
	runtime.LockOSThread()
	old := blockSignals()
	var stop syscall.Errno
	start := time.Now()
	for len(pids) < max {
		pid, e := forkPause()
		if e != 0 {
			stop = e
			break
		}
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		unix.RawSyscall(unix.SYS_KILL, pid, uintptr(unix.SIGKILL), 0)
	}
	for _, pid := range pids {
		var ws unix.WaitStatus
		unix.RawSyscall6(unix.SYS_WAIT4, pid, uintptr(unsafe.Pointer(&ws)), 0, 0, 0, 0)
	}
	restoreSignals(old)
	runtime.UnlockOSThread()
	debug.SetGCPercent(100)
	result := "not-stopped"
	if stop != 0 {
		result = "stopped " + errnoName(stop)
	}
	report("forkbomb", fmt.Sprintf("%s forked=%d threads=%d ms=%d", result, len(pids), threads, time.Since(start).Milliseconds()))
}

// threadCount returns this process's thread count from /proc/self/status.
func threadCount() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// memhogMain runs "attack memhog-child MAXMB" and reports how it ended:
// "PROBE memhog killed SIGKILL mb=N" when the memory limit stopped it,
// "survived mb=N" when it reached MAXMB.
func memhogMain(args []string) {
	maxMB := "1024"
	if len(args) > 0 {
		maxMB = args[0]
	}
	self, err := os.Executable()
	if err != nil {
		report("memhog", "error "+err.Error())
		return
	}
	cmd := exec.Command(self, "memhog-child", maxMB)
	cmd.Stderr = os.Stderr
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		report("memhog", "error "+err.Error())
		return
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		report("memhog", "error start: "+err.Error())
		return
	}
	last := "0"
	sc := bufio.NewScanner(outPipe)
	for sc.Scan() {
		last = sc.Text()
	}
	cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	ms := time.Since(start).Milliseconds()
	switch {
	case ws.Signaled():
		report("memhog", fmt.Sprintf("killed %s mb=%s ms=%d", unix.SignalName(ws.Signal()), last, ms))
	case ws.ExitStatus() == 0:
		report("memhog", fmt.Sprintf("survived mb=%s ms=%d", last, ms))
	default:
		report("memhog", fmt.Sprintf("error exit %d mb=%s ms=%d", ws.ExitStatus(), last, ms))
	}
}

// memhogChild maps and touches 1 MiB at a time outside the Go heap,
// printing the running total, until it has maxMB or is killed.
func memhogChild(args []string) {
	maxMB := 1024
	if len(args) > 0 {
		if n, err := strconv.Atoi(args[0]); err == nil && n > 0 {
			maxMB = n
		}
	}
	const chunk = 1 << 20
	page := os.Getpagesize()
	for mb := 1; mb <= maxMB; mb++ {
		mem, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			fmt.Fprintf(os.Stderr, "memhog-child: mmap after %d MiB: %v\n", mb-1, err)
			os.Exit(3)
		}
		for i := 0; i < chunk; i += page {
			mem[i] = byte(mb)
		}
		fmt.Println(mb)
	}
	os.Exit(0)
}
