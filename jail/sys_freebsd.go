package jail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HostSys returns the Sys that makes the real system calls.
func HostSys() Sys { return hostSys{} }

// hostSys implements Sys with one system call per method.
type hostSys struct{}

// errmsgLen is the size of the "errmsg" buffer handed to the kernel
// (JAIL_ERRMSGLEN in libjail).
const errmsgLen = 1024

// fKinfo is F_KINFO (sys/fcntl.h, FreeBSD 13.1+), missing from x/sys.
const fKinfo = 22

// iovCall runs a jail_set/jail_get/nmount style system call over params,
// appending an "errmsg" buffer whose text, when the kernel fills it, is
// returned in the error instead of the bare errno. Raw params share their
// buffer with the kernel, so jail_get's outputs land in them.
func iovCall(trap uintptr, params []Param, flags int) (int, error) {
	bufs, err := EncodeAll(params)
	if err != nil {
		return -1, err
	}
	errmsg := make([]byte, errmsgLen)
	bufs = append(bufs, []byte("errmsg\x00"), errmsg)
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		if len(b) > 0 {
			iov[i].Base = &b[0]
			iov[i].SetLen(len(b))
		}
	}
	r, _, errno := unix.Syscall(trap, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), uintptr(flags))
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(iov)
	if errno != 0 {
		if msg := unix.ByteSliceToString(errmsg); msg != "" {
			return -1, fmt.Errorf("%s (%w)", msg, errno)
		}
		return -1, errno
	}
	return int(int32(r)), nil
}

func (hostSys) Geteuid() int { return unix.Geteuid() }

func (hostSys) JailSet(params []Param, flags int) (int, error) {
	return iovCall(unix.SYS_JAIL_SET, params, flags)
}

func (hostSys) JailGet(name string) (JailInfo, error) {
	path := RawParam("path", make([]byte, 1024))
	max := RawParam("children.max", make([]byte, 4))
	cur := RawParam("children.cur", make([]byte, 4))
	jid, err := iovCall(unix.SYS_JAIL_GET, []Param{StringParam("name", name), path, max, cur}, 0)
	if err != nil {
		return JailInfo{}, err
	}
	return JailInfo{
		JID:         jid,
		Path:        unix.ByteSliceToString(path.Raw),
		ChildrenMax: int(int32(binary.NativeEndian.Uint32(max.Raw))),
		ChildrenCur: int(int32(binary.NativeEndian.Uint32(cur.Raw))),
	}, nil
}

func (hostSys) JailRemove(jid int) error {
	if _, _, errno := unix.Syscall(unix.SYS_JAIL_REMOVE, uintptr(jid), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) Nmount(params []Param, flags int) error {
	_, err := iovCall(unix.SYS_NMOUNT, params, flags)
	return err
}

func (hostSys) Statfs(path string) (FSInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FSInfo{}, err
	}
	return FSInfo{
		FSID:    FSID{st.Fsid.Val[0], st.Fsid.Val[1]},
		Type:    unix.ByteSliceToString(st.Fstypename[:]),
		MntOn:   unix.ByteSliceToString(st.Mntonname[:]),
		MntFrom: unix.ByteSliceToString(st.Mntfromname[:]),
	}, nil
}

func (hostSys) Unmount(fsid FSID, flags int) error {
	return unix.Unmount(fsid.String(), flags|unix.MNT_BYFSID)
}

func rctlCall(trap uintptr, s string) error {
	in := append([]byte(s), 0)
	_, _, errno := unix.Syscall6(trap, uintptr(unsafe.Pointer(&in[0])), uintptr(len(in)), 0, 0, 0, 0)
	runtime.KeepAlive(in)
	if errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) RctlAddRule(rule string) error { return rctlCall(unix.SYS_RCTL_ADD_RULE, rule) }

func (hostSys) RctlRemoveRule(filter string) error {
	return rctlCall(unix.SYS_RCTL_REMOVE_RULE, filter)
}

func (hostSys) DevfsRules(ruleset int) ([]DevfsRule, error) {
	fd, err := unix.Open("/dev", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var rules []DevfsRule
	for after := 0; ; {
		buf := DevfsRuleQuery(ruleset, after)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(DevfsRulesetsIoctl), uintptr(unsafe.Pointer(&buf[0])))
		runtime.KeepAlive(buf)
		if errno == unix.ENOENT {
			return rules, nil
		}
		if errno != 0 {
			return nil, fmt.Errorf("DEVFSIO_RGETNEXT: %w", errno)
		}
		r, err := ParseDevfsRule(buf)
		if err != nil {
			return nil, err
		}
		if r.Ruleset != ruleset || r.Number <= after {
			return nil, fmt.Errorf("DEVFSIO_RGETNEXT returned rule %d.%d after %d.%d", r.Ruleset, r.Number, ruleset, after)
		}
		rules = append(rules, r)
		after = r.Number
	}
}

func (hostSys) Processes() ([]Proc, error) {
	buf, err := unix.SysctlRaw("kern.proc.proc")
	if err != nil {
		return nil, fmt.Errorf("sysctl kern.proc.proc: %w", err)
	}
	return ParseKinfoProcs(buf)
}

func (hostSys) Process(pid int) ([]Proc, error) {
	buf, err := unix.SysctlRaw("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	return ParseKinfoProcs(buf)
}

func (hostSys) Kill(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

func (hostSys) Ktrace(file string, ops, facs, pid int) error {
	p, err := unix.BytePtrFromString(file)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall6(unix.SYS_KTRACE, uintptr(unsafe.Pointer(p)), uintptr(ops), uintptr(facs), uintptr(pid), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) StartProcess(cmd *exec.Cmd) (Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmdProcess{cmd}, nil
}

// cmdProcess is a Process started with os/exec.
type cmdProcess struct{ cmd *exec.Cmd }

func (p cmdProcess) Pid() int       { return p.cmd.Process.Pid }
func (p cmdProcess) Kill() error    { return p.cmd.Process.Kill() }
func (p cmdProcess) Release() error { return p.cmd.Process.Release() }

func (p cmdProcess) Wait() (ExitStatus, error) {
	err := p.cmd.Wait()
	ps := p.cmd.ProcessState
	if ps == nil {
		return ExitStatus{}, err
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ExitStatus{Code: -1, Signal: ws.Signal()}, nil
	}
	return ExitStatus{Code: ps.ExitCode()}, nil
}

func (hostSys) FDFlags(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0) }

func (hostSys) StatusFlags(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
}

func (hostSys) FileInfo(fd int) (FileInfo, error) {
	buf := KinfoFileRequest()
	_, _, errno := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), fKinfo, uintptr(unsafe.Pointer(&buf[0])))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return FileInfo{}, fmt.Errorf("fcntl(F_KINFO): %w", errno)
	}
	return ParseKinfoFile(buf)
}

func (hostSys) Listening(fd int) (bool, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return v != 0, err
}

func clampRlim(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1 // RLIM_INFINITY
	}
	return int64(v)
}

func (hostSys) Setrlimit(resource int, soft, max uint64) error {
	return unix.Setrlimit(resource, &unix.Rlimit{Cur: clampRlim(soft), Max: clampRlim(max)})
}

func (hostSys) Setgroups(gids []int) error              { return unix.Setgroups(gids) }
func (hostSys) Setresgid(r, e, s int) error             { return unix.Setresgid(r, e, s) }
func (hostSys) Setresuid(r, e, s int) error             { return unix.Setresuid(r, e, s) }
func (hostSys) Umask(mask int)                          { unix.Umask(mask) }
func (hostSys) Chdir(dir string) error                  { return unix.Chdir(dir) }
func (hostSys) ReadFile(path string) ([]byte, error)    { return os.ReadFile(path) }
func (hostSys) CapEnter() error                         { return unix.CapEnter() }
func (hostSys) Exec(p string, argv, env []string) error { return unix.Exec(p, argv, env) }

func (hostSys) JailAttach(jid int) error {
	if _, _, errno := unix.Syscall(unix.SYS_JAIL_ATTACH, uintptr(jid), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) Executable(p string) bool {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	return unix.Access(p, unix.X_OK) == nil
}

func (hostSys) Open(p string, flags int) (int, error) {
	return unix.Open(p, flags|unix.O_CLOEXEC, 0)
}

func (hostSys) ProcctlSelf(cmd, arg int) error {
	v := int32(arg)
	const pPID = 0 // P_PID of idtype_t
	_, _, errno := unix.Syscall6(unix.SYS_PROCCTL, pPID, uintptr(unix.Getpid()), uintptr(cmd), uintptr(unsafe.Pointer(&v)), 0, 0)
	runtime.KeepAlive(&v)
	if errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) CloseRange(first, flags int) error {
	if _, _, errno := unix.Syscall(unix.SYS_CLOSE_RANGE, uintptr(first), uintptr(^uint32(0)), uintptr(flags)); errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) SetCloexec(fd int, on bool) error {
	v := 0
	if on {
		v = unix.FD_CLOEXEC
	}
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, v)
	return err
}

func (hostSys) CapRightsLimit(fd int, r Rights) error {
	return unix.CapRightsLimit(uintptr(fd), &unix.CapRights{Rights: r})
}

func (hostSys) CapFcntlsLimit(fd int, mask uint32) error {
	if _, _, errno := unix.Syscall(unix.SYS_CAP_FCNTLS_LIMIT, uintptr(fd), uintptr(mask), 0); errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) CapIoctlsLimit(fd int, cmds []uint64) error {
	var p unsafe.Pointer
	if len(cmds) > 0 {
		p = unsafe.Pointer(&cmds[0])
	}
	_, _, errno := unix.Syscall(unix.SYS_CAP_IOCTLS_LIMIT, uintptr(fd), uintptr(p), uintptr(len(cmds)))
	runtime.KeepAlive(cmds)
	if errno != 0 {
		return errno
	}
	return nil
}

func (hostSys) Fexecve(fd int, argv, env []string) error {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_FEXECVE, uintptr(fd), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return errno
}
