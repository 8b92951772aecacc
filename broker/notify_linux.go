package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/seccompgen"
)

// Notification is one seccomp user notification (struct seccomp_notif).
type Notification struct {
	ID   uint64
	Pid  uint32
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// Verdict is what the broker did with a notification.
type Verdict struct {
	// Answered: the broker has answered the call (with a descriptor, with
	// "continue", or with the profile's errno) and logged its decision.
	// Otherwise the monitor answers as it would without a broker.
	Answered bool
	// Record, for a call not Answered, is the broker's refusal, for the
	// monitor's own record of the call; nil when the call was none of the
	// broker's business.
	Record *Record
}

// Log is where Handle records its decisions: Record right before the
// answer, so that once the plugin's call returns its record exists;
// Retract when the answer did not reach the plugin (its call was
// interrupted, and will be made again, or its thread died).
type Log interface {
	Record(r *Record)
	Retract()
}

// call is a system call the broker handles.
type call int

const (
	callOpen call = iota + 1
	callOpenat
	callOpenat2
	callConnect
)

// Transparent brokers the plugin's own open, openat, openat2 and connect
// calls, which its seccomp filter sends, whatever their arguments, to the
// listener. The path or address is read from the plugin once, after which
// the notification is checked to be still pending; the decision is made on
// that copy, and a grant installs a descriptor the broker opened itself
// (SECCOMP_IOCTL_NOTIF_ADDFD), so the kernel never reads the plugin's
// memory again for it. What no rule grants gets what the profile would
// have answered without the broker: the filter's program before the
// routing (fallback) is run on the call, and "allow" becomes
// SECCOMP_USER_NOTIF_FLAG_CONTINUE. That is safe only because continuing
// does exactly what the sandbox does anyway (its mounts, Landlock and
// network namespace still apply): the broker never widens access except
// by a rule.
type Transparent struct {
	host     *Host
	fallback []unix.SockFilter
	arch     uint32
	nrs      map[int32]call
}

// NewTransparent returns the transparent broker for host's policy;
// fallback is the BPF program (host byte order) of the profile without
// the broker's routing.
func NewTransparent(host *Host, fallback []byte) (*Transparent, error) {
	if len(fallback) == 0 || len(fallback)%8 != 0 {
		return nil, fmt.Errorf("broker: the fallback program has %d bytes, not a whole number of instructions", len(fallback))
	}
	arch, err := seccompgen.NativeAuditArch()
	if err != nil {
		return nil, err
	}
	t := &Transparent{host: host, arch: arch, nrs: map[int32]call{}}
	for i := 0; i < len(fallback); i += 8 {
		in := fallback[i:]
		t.fallback = append(t.fallback, unix.SockFilter{Code: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])})
	}
	names := map[string]call{"open": callOpen, "openat": callOpenat, "openat2": callOpenat2, "connect": callConnect}
	for _, name := range seccompgen.BrokerCalls(len(host.policy.Open) > 0, len(host.policy.Connect) > 0) {
		nr, err := seccompgen.ResolveNative(name)
		if err != nil {
			continue // open does not exist on arm64
		}
		t.nrs[int32(nr)] = names[name]
	}
	return t, nil
}

// Handle answers n if it is a call the broker handles; listener is the
// seccomp listener n came from.
func (t *Transparent) Handle(listener int, n Notification, log Log) Verdict {
	c, ok := t.nrs[n.Nr]
	if !ok || n.Arch != t.arch {
		return Verdict{}
	}
	a := answerer{listener: listener, n: n, log: log, t: t}
	if c == callConnect {
		return t.connect(a)
	}
	return t.open(a, c)
}

// answerer answers one notification, logging first.
type answerer struct {
	listener int
	n        Notification
	log      Log
	t        *Transparent
}

// send records rec (when not nil) and runs answer, taking the record back
// if the answer did not reach the plugin.
func (a answerer) send(rec *Record, answer func() error) Verdict {
	if rec != nil {
		a.log.Record(rec)
	}
	if err := answer(); err != nil && rec != nil {
		a.log.Retract()
	}
	return Verdict{Answered: true}
}

func (t *Transparent) open(a answerer, c call) Verdict {
	n := a.n
	var pathPtr, flags uint64
	switch c {
	case callOpen:
		pathPtr, flags = n.Args[0], n.Args[1]
	case callOpenat:
		pathPtr, flags = n.Args[1], n.Args[2]
	case callOpenat2:
		pathPtr = n.Args[1]
	}
	p, err := readString(int(n.Pid), pathPtr)
	if err != nil || !strings.HasPrefix(p, "/") {
		// Unreadable (the kernel answers EFAULT itself) or relative to
		// a directory inside the sandbox: not the broker's.
		return a.fallback(nil)
	}
	var resolve uint64
	if c == callOpenat2 {
		how, err := readMemory(int(n.Pid), n.Args[2], 24)
		if err != nil || n.Args[3] != 24 {
			return a.fallback(nil)
		}
		flags, resolve = binary.NativeEndian.Uint64(how), binary.NativeEndian.Uint64(how[16:])
	}
	req, why := openRequestOf(p, flags)
	if why == "" && resolve != 0 {
		why = "openat2 with RESOLVE_* flags is not brokered"
	}
	d := t.host.policy.DecideOpen(req)
	if !d.Concerns {
		// Not the broker's: the answer depends on the registers alone.
		return a.fallback(nil)
	}
	// What was read is what is decided on: the plugin may change its
	// memory from now on, the broker does not look again. The call must
	// still be the one read for (not a new one of a reused thread id).
	if !idValid(a.listener, n.ID) {
		return Verdict{Answered: true}
	}
	rec := &Record{Op: "open", Target: p, Access: req.Access(), Via: "seccomp"}
	if why != "" || !d.Granted() {
		rec.Reason = why
		if why == "" {
			rec.Reason = d.Reason
		}
		return a.fallback(rec)
	}
	fd, rule, err := t.host.Open(req, d)
	if rule != nil {
		rec.Rule = rule.Field
	}
	if err != nil {
		rec.Reason = err.Error()
		return a.fallback(rec)
	}
	defer unix.Close(fd)
	var newFlags uint32
	if req.CloseOnExec {
		newFlags = unix.O_CLOEXEC
	}
	rec.Granted = true
	// Installing the descriptor with SECCOMP_ADDFD_FLAG_SEND answers the
	// call with its number, atomically. It fails (ENOENT) when the call
	// was interrupted (it is made again) or its thread died: nothing was
	// granted then.
	return a.send(rec, func() error {
		_, err := addFD(a.listener, n.ID, fd, unix.SECCOMP_ADDFD_FLAG_SEND, 0, newFlags)
		return err
	})
}

// openRequestOf reads Linux open flags; why says which flag the broker
// does not hand out a descriptor for.
func openRequestOf(path string, flags uint64) (OpenRequest, string) {
	r := OpenRequest{Path: path}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		r.Read = true
	case unix.O_WRONLY:
		r.Write = true
	case unix.O_RDWR:
		r.Read, r.Write = true, true
	default:
		return r, "an invalid access mode"
	}
	has := func(bit int) bool { return flags&uint64(bit) == uint64(bit) }
	r.Create, r.Exclusive = has(unix.O_CREAT), has(unix.O_EXCL)
	r.Truncate, r.Append = has(unix.O_TRUNC), has(unix.O_APPEND)
	r.Nonblock, r.CloseOnExec = has(unix.O_NONBLOCK), has(unix.O_CLOEXEC)
	r.Sync = has(unix.O_DSYNC)
	switch {
	case has(unix.O_PATH):
		return r, "O_PATH descriptors are not brokered"
	case has(unix.O_TMPFILE):
		return r, "O_TMPFILE is not brokered"
	case has(unix.O_DIRECTORY):
		return r, "directory descriptors are not brokered"
	}
	known := uint64(unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK |
		unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NOFOLLOW | unix.O_LARGEFILE | unix.O_SYNC | unix.O_DSYNC)
	if extra := flags &^ known; extra != 0 {
		return r, fmt.Sprintf("open flags %#o are not brokered", extra)
	}
	return r, ""
}

func (t *Transparent) connect(a answerer) Verdict {
	n := a.n
	sockfd, addrPtr, addrLen := int(n.Args[0]), n.Args[1], n.Args[2]
	if addrLen < 2 || addrLen > unix.SizeofSockaddrAny {
		return a.fallback(nil)
	}
	raw, err := readMemory(int(n.Pid), addrPtr, int(addrLen))
	if err != nil {
		return a.fallback(nil)
	}
	if !idValid(a.listener, n.ID) {
		return Verdict{Answered: true}
	}
	addr, family, ok := parseSockaddr(raw)
	if !ok {
		return a.fallback(nil)
	}
	rec := &Record{Op: "connect", Target: addr.String(), Via: "seccomp"}
	dest := t.host.policy.MatchConnect(addr, t.host.Resolve)
	if dest == nil {
		if !t.host.policy.ConcernsConnect(addr) {
			return a.fallback(nil)
		}
		rec.Reason = "no rule names this destination"
		return a.fallback(rec)
	}
	rec.Rule = dest.Field
	sock, cloexec, err := pluginSocket(n.Pid, sockfd)
	if err == nil && sock.Family != family {
		err = fmt.Errorf("the address is not of the socket's family")
	}
	if err == nil && sock.Type != unix.SOCK_STREAM && !(sock.Family == unix.AF_UNIX && sock.Type == unix.SOCK_SEQPACKET) {
		err = fmt.Errorf("only stream sockets are brokered")
	}
	if err != nil {
		rec.Reason = err.Error()
		return a.fallback(rec)
	}
	fd, err := t.host.Connect(addr, sock)
	if err != nil {
		rec.Reason = err.Error()
		return a.fallback(rec)
	}
	defer unix.Close(fd)
	var newFlags uint32
	if cloexec {
		newFlags = unix.O_CLOEXEC
	}
	// The connected socket replaces the plugin's, under its number; then
	// connect returns 0.
	if _, err := addFD(a.listener, n.ID, fd, unix.SECCOMP_ADDFD_FLAG_SETFD, sockfd, newFlags); err != nil {
		return Verdict{Answered: true}
	}
	rec.Granted, rec.FD = true, sockfd
	return a.send(rec, func() error { return respond(a.listener, n.ID, 0, 0, 0) })
}

// parseSockaddr decodes an AF_INET, AF_INET6 or AF_UNIX (pathname)
// address; abstract and unnamed unix sockets are not brokered.
func parseSockaddr(raw []byte) (Address, int, bool) {
	family := int(binary.NativeEndian.Uint16(raw))
	switch family {
	case unix.AF_INET:
		if len(raw) < unix.SizeofSockaddrInet4 {
			return Address{}, 0, false
		}
		ip := netip.AddrFrom4([4]byte(raw[4:8]))
		return Address{Network: "tcp", IP: ip, Port: binary.BigEndian.Uint16(raw[2:])}, family, true
	case unix.AF_INET6:
		if len(raw) < unix.SizeofSockaddrInet6 {
			return Address{}, 0, false
		}
		ip := netip.AddrFrom16([16]byte(raw[8:24]))
		return Address{Network: "tcp", IP: ip.Unmap(), Port: binary.BigEndian.Uint16(raw[2:])}, family, true
	case unix.AF_UNIX:
		name := raw[2:]
		if len(name) == 0 || name[0] == 0 {
			return Address{}, 0, false
		}
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		return Address{Network: "unix", Path: string(name)}, family, true
	}
	return Address{}, 0, false
}

// pluginSocket describes descriptor fd of thread pid: a socket's family,
// type and protocol, O_NONBLOCK, and whether it is close-on-exec.
func pluginSocket(pid uint32, fd int) (Socket, bool, error) {
	pidfd, err := unix.PidfdOpen(int(pid), unix.PIDFD_THREAD)
	if err != nil {
		pidfd, err = unix.PidfdOpen(int(pid), 0)
	}
	if err != nil {
		return Socket{}, false, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	own, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return Socket{}, false, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	defer unix.Close(own)
	var s Socket
	if s.Family, err = unix.GetsockoptInt(own, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
		return Socket{}, false, fmt.Errorf("descriptor %d is not a socket", fd)
	}
	if s.Type, err = unix.GetsockoptInt(own, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		return Socket{}, false, err
	}
	if s.Protocol, err = unix.GetsockoptInt(own, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil {
		return Socket{}, false, err
	}
	fl, err := unix.FcntlInt(uintptr(own), unix.F_GETFL, 0)
	if err != nil {
		return Socket{}, false, err
	}
	s.Nonblock = fl&unix.O_NONBLOCK != 0
	return s, fdCloexec(pid, fd), nil
}

// fdCloexec reads the close-on-exec flag of descriptor fd of thread pid
// from /proc (the flag is the descriptor's, not the open file's).
func fdCloexec(pid uint32, fd int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			fl, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && fl&unix.O_CLOEXEC != 0
		}
	}
	return false
}

// fallback answers the call as the profile without the broker would: a
// call it allows continues in the sandbox, one it fails gets its errno;
// one it sends to the listener is left to the monitor, with rec.
func (a answerer) fallback(rec *Record) Verdict {
	n := a.n
	ret, err := seccompgen.Evaluate(a.t.fallback, seccompgen.SeccompData{Nr: n.Nr, Arch: n.Arch, IP: n.IP, Args: n.Args})
	if err != nil {
		ret = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	}
	data := int32(ret & unix.SECCOMP_RET_DATA)
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG:
		return a.send(rec, func() error { return respond(a.listener, n.ID, 0, 0, unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE) })
	case unix.SECCOMP_RET_ERRNO:
		return a.send(rec, func() error { return respond(a.listener, n.ID, 0, -data, 0) })
	case unix.SECCOMP_RET_USER_NOTIF:
		return Verdict{Record: rec}
	case unix.SECCOMP_RET_KILL_PROCESS, unix.SECCOMP_RET_KILL_THREAD:
		return a.send(rec, func() error {
			killProcess(n.Pid)
			return respond(a.listener, n.ID, 0, -int32(unix.EPERM), 0)
		})
	}
	// TRAP, TRACE: no tracer or handler outside the kernel.
	return a.send(rec, func() error { return respond(a.listener, n.ID, 0, -int32(unix.ENOSYS), 0) })
}

func killProcess(pid uint32) {
	fd, err := unix.PidfdOpen(int(pid), unix.PIDFD_THREAD)
	if err != nil {
		_ = unix.Kill(int(pid), unix.SIGKILL)
		return
	}
	defer unix.Close(fd)
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
}

// pageSize bounds each read from the plugin, so a string that ends just
// before an unmapped page is still read.
var pageSize = os.Getpagesize()

// readString reads a NUL-terminated string of at most maxPath bytes from
// the memory of thread pid: 256 bytes first (most paths are shorter), then
// up to a page at a time, never across a page boundary in one read.
func readString(pid int, addr uint64) (string, error) {
	var out []byte
	var chunk [256]byte
	buf := chunk[:]
	for len(out) <= maxPath {
		n := pageSize - int(addr%uint64(pageSize))
		n = min(n, len(buf), maxPath+1-len(out))
		got, err := vmRead(pid, buf[:n], addr)
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uint64(got)
		if len(buf) < pageSize {
			buf = make([]byte, pageSize)
		}
	}
	return "", unix.ENAMETOOLONG
}

// readMemory reads exactly n bytes at addr from thread pid.
func readMemory(pid int, addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := vmRead(pid, buf, addr)
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, unix.EFAULT
	}
	return buf, nil
}

func vmRead(pid int, buf []byte, addr uint64) (int, error) {
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, unix.EFAULT
	}
	return n, nil
}

// seccompNotifAddfd is struct seccomp_notif_addfd.
type seccompNotifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// addFD installs srcfd in the notifying process: with
// SECCOMP_ADDFD_FLAG_SEND it also answers the call with the new number.
func addFD(listener int, id uint64, srcfd int, flags uint32, newfd int, newFlags uint32) (int, error) {
	a := seccompNotifAddfd{ID: id, Flags: flags, Srcfd: uint32(srcfd), Newfd: uint32(newfd), NewfdFlags: newFlags}
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_ADDFD, uintptr(unsafe.Pointer(&a)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// respond answers a notification: val and error (a negated errno), or
// SECCOMP_USER_NOTIF_FLAG_CONTINUE.
func respond(listener int, id uint64, val int64, errno int32, flags uint32) error {
	r := seccompNotifResp{ID: id, Val: val, Error: errno, Flags: flags}
	return ioctlRetry(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// idValid reports whether notification id is still waiting for an answer.
func idValid(listener int, id uint64) bool {
	return ioctlRetry(listener, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

func ioctlRetry(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}
