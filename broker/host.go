//go:build linux || freebsd

package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ConnectTimeout bounds one connection the broker makes for a plugin.
const ConnectTimeout = 5 * time.Second

// resolveTTL is how long a rule's DNS name keeps the addresses it
// resolved to, for matching the plugin's transparent connects.
const resolveTTL = 30 * time.Second

// Limiter narrows a descriptor to what a grant allows before the plugin
// gets it (FreeBSD: cap_rights_limit); kind is "file" or "socket".
type Limiter func(fd int, kind string, read, write bool) error

// Host carries out granted requests on the host: it opens files beneath
// their rule's directory and makes connections. It is safe for concurrent
// use.
type Host struct {
	policy  *Policy
	limit   Limiter
	timeout time.Duration

	mu   sync.Mutex
	dirs map[string]int // rule directory → O_PATH descriptor
	dns  map[string]resolved
}

type resolved struct {
	addrs []netip.Addr
	at    time.Time
}

// NewHost returns the executor of policy; limit may be nil.
func NewHost(policy *Policy, limit Limiter) *Host {
	return &Host{policy: policy, limit: limit, timeout: ConnectTimeout, dirs: map[string]int{}, dns: map[string]resolved{}}
}

// Policy returns the rules the host carries out.
func (h *Host) Policy() *Policy { return h.policy }

// Close releases the directory descriptors.
func (h *Host) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fd := range h.dirs {
		unix.Close(fd)
	}
	h.dirs = map[string]int{}
}

// hostError is a refusal with the errno the plugin is told.
type hostError struct {
	name string // ErrDenied ...
	err  error
}

func (e *hostError) Error() string { return e.err.Error() }

// ErrnoName returns the explicit protocol's name for err's errno.
func ErrnoName(err error) string {
	var he *hostError
	if errors.As(err, &he) {
		return he.name
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ENOENT:
			return ErrNotFound
		case unix.EEXIST:
			return ErrExists
		case unix.ELOOP, unix.EXDEV:
			return ErrLoop
		case unix.EACCES, unix.EPERM:
			return ErrDenied
		case unix.ECONNREFUSED:
			return ErrRefused
		case unix.EHOSTUNREACH, unix.ENETUNREACH, unix.ETIMEDOUT:
			return ErrUnreachable
		case unix.EISDIR, unix.ENOTDIR:
			return ErrNotRegular
		}
	}
	return ErrIO
}

func refusal(name, format string, a ...any) error {
	return &hostError{name: name, err: fmt.Errorf(format, a...)}
}

// Open opens what d grants for req. It returns a close-on-exec descriptor
// with no more rights than the rule grants, and the rule used.
func (h *Host) Open(req OpenRequest, d OpenDecision) (int, *FileRule, error) {
	if !d.Granted() {
		return -1, nil, refusal(ErrDenied, "%s", d.Reason)
	}
	if d.Existing != nil {
		fd, err := h.openExisting(req, d.Existing, d.ExistingRel)
		if err == nil || d.New == nil || !errors.Is(err, unix.ENOENT) {
			return fd, d.Existing, err
		}
	}
	fd, err := h.create(req, d.New, d.NewRel)
	return fd, d.New, err
}

// dir returns a descriptor of rule directory path, opened once.
func (h *Host) dir(path string) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fd, ok := h.dirs[path]; ok {
		return fd, nil
	}
	fd, err := openDir(path)
	if err != nil {
		return -1, fmt.Errorf("the rule's directory %s: %w", path, err)
	}
	h.dirs[path] = fd
	return fd, nil
}

func (h *Host) openExisting(req OpenRequest, r *FileRule, rel string) (int, error) {
	dirfd, err := h.dir(r.Dir)
	if err != nil {
		return -1, err
	}
	flags := accessFlags(req)
	if req.Truncate {
		flags |= unix.O_TRUNC
	}
	if req.Append {
		flags |= unix.O_APPEND
	}
	if req.Sync {
		flags |= unix.O_SYNC
	}
	// O_NONBLOCK for the open itself: a FIFO would block the broker.
	fd, err := openBeneath(dirfd, rel, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := h.finish(fd, req); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (h *Host) create(req OpenRequest, r *FileRule, rel string) (int, error) {
	dirfd, err := h.dir(r.Dir)
	if err != nil {
		return -1, err
	}
	flags := accessFlags(req) | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_CLOEXEC
	if req.Append {
		flags |= unix.O_APPEND
	}
	if req.Sync {
		flags |= unix.O_SYNC
	}
	fd, err := openBeneath(dirfd, rel, flags, r.Mode)
	if err != nil {
		return -1, err
	}
	// The mode is the rule's, whatever the broker's umask.
	if err := unix.Fchmod(fd, r.Mode); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fchmod: %w", err)
	}
	if err := h.finish(fd, req); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// finish checks that fd is a regular file, gives it the status flags the
// plugin asked for and limits it.
func (h *Host) finish(fd int, req OpenRequest) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return refusal(ErrNotRegular, "not a regular file (the broker hands out no directories, devices or FIFOs)")
	}
	if !req.Nonblock {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK); err != nil {
			return err
		}
	}
	if h.limit != nil {
		if err := h.limit(fd, "file", req.Read, req.Write); err != nil {
			return fmt.Errorf("limit the descriptor: %w", err)
		}
	}
	return nil
}

func accessFlags(req OpenRequest) int {
	switch {
	case req.Read && req.Write:
		return unix.O_RDWR
	case req.Write:
		return unix.O_WRONLY
	}
	return unix.O_RDONLY
}

// Socket is the plugin's socket a transparent connect is made for: the
// broker's socket has the same family, type and protocol.
type Socket struct {
	Family, Type, Protocol int
	Nonblock               bool
}

// Connect connects to a (which rule dest allows) with a new socket like s
// and returns it, close-on-exec.
func (h *Host) Connect(a Address, s Socket) (int, error) {
	var sa unix.Sockaddr
	switch {
	case a.Network == "unix":
		sa = &unix.SockaddrUnix{Name: a.Path}
	case s.Family == unix.AF_INET6:
		sa6 := &unix.SockaddrInet6{Port: int(a.Port)}
		sa6.Addr = netip.AddrFrom16(a.IP.As16()).As16()
		sa = sa6
	default:
		if !a.IP.Unmap().Is4() {
			return -1, refusal(ErrInvalid, "an IPv6 address on an AF_INET socket")
		}
		sa = &unix.SockaddrInet4{Port: int(a.Port), Addr: a.IP.Unmap().As4()}
	}
	fd, err := h.dial(s.Family, s.Type, s.Protocol, sa)
	if err != nil {
		return -1, err
	}
	if s.Nonblock {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if h.limit != nil {
		if err := h.limit(fd, "socket", true, true); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("limit the descriptor: %w", err)
		}
	}
	return fd, nil
}

// ConnectNamed makes the connection rule d names, for the explicit
// protocol: a DNS name is resolved on the host, and each address tried.
func (h *Host) ConnectNamed(d *Destination) (int, error) {
	if d.Network == "unix" {
		return h.Connect(Address{Network: "unix", Path: d.Path}, Socket{Family: unix.AF_UNIX, Type: unix.SOCK_STREAM})
	}
	addrs := []netip.Addr{d.IP}
	if !d.IP.IsValid() {
		addrs = h.lookup(d.Host)
		if len(addrs) == 0 {
			return -1, refusal(ErrUnreachable, "%s does not resolve on the host", d.Host)
		}
	}
	var last error
	for _, ip := range addrs {
		family := unix.AF_INET
		if !ip.Unmap().Is4() {
			family = unix.AF_INET6
		}
		fd, err := h.Connect(Address{Network: "tcp", IP: ip, Port: d.Port}, Socket{Family: family, Type: unix.SOCK_STREAM})
		if err == nil {
			return fd, nil
		}
		last = err
	}
	return -1, last
}

// dial connects a new blocking socket within h.timeout.
func (h *Host) dial(family, sotype, proto int, sa unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, sotype|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	err = unix.Connect(fd, sa)
	if errors.Is(err, unix.EINPROGRESS) {
		err = waitConnected(fd, h.timeout)
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func waitConnected(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return refusal(ErrUnreachable, "no connection within %s", timeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soerr != 0 {
			return unix.Errno(soerr)
		}
		return nil
	}
}

// Resolve returns what host resolves to, cached for resolveTTL; it is the
// Resolver transparent connects are matched with.
func (h *Host) Resolve(host string) []netip.Addr { return h.lookup(host) }

func (h *Host) lookup(host string) []netip.Addr {
	h.mu.Lock()
	r, ok := h.dns[host]
	h.mu.Unlock()
	if ok && time.Since(r.at) < resolveTTL {
		return r.addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		addrs = nil
	}
	h.mu.Lock()
	h.dns[host] = resolved{addrs: addrs, at: time.Now()}
	h.mu.Unlock()
	return addrs
}
