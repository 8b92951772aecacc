package monitor

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/seccompgen"
)

// seccompNotif is struct seccomp_notif of <linux/seccomp.h>.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32 // a negated errno
	Flags uint32
}

// Serve answers notifications on listener until every process using the
// filter has exited, answering each call as ans says and recording it with
// rec before answering it. report, when not nil, receives the running
// counters a few times a second while they change. With b, the broker
// answers the calls it handles first (broker.Transparent); what it leaves
// (a refusal the profile routes to the monitor) ans answers; and Serve
// answers the broker's explicit protocol too. Serve closes rec before it
// returns.
func Serve(listener int, rec *Recorder, ans *Answerer, report func(Counters), b *Broker) error {
	names := syscallNames{}
	tick := rec.limits.Window / 4
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	var lastTick, lastReport time.Time
	var reported Counters
	defer func() {
		rec.Close(time.Now())
		if report != nil {
			report(rec.Counters())
		}
	}()
	fds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
	if b != nil && b.explicit >= 0 {
		defer func() {
			if b.explicit >= 0 {
				unix.Close(b.explicit)
			}
		}()
		fds = append(fds, unix.PollFd{Fd: int32(b.explicit), Events: unix.POLLIN})
	}
	for {
		timeout := -1
		if !rec.Idle() || (report != nil && rec.Counters() != reported) {
			timeout = int(tick / time.Millisecond)
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		n, err := unix.Poll(fds, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll seccomp listener: %w", err)
		}
		now := time.Now()
		if now.Sub(lastTick) >= tick {
			rec.Tick(now)
			lastTick = now
		}
		if report != nil && now.Sub(lastReport) >= tick && rec.Counters() != reported {
			reported = rec.Counters()
			report(reported)
			lastReport = now
		}
		if n <= 0 {
			continue
		}
		if len(fds) > 1 && fds[1].Revents != 0 && b.serveExplicit(rec) {
			fds[1].Fd = -1 // closed: poll skips it
		}
		if fds[0].Revents == 0 {
			continue
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return nil // POLLHUP: no process uses the filter any more
		}
		var req seccompNotif
		if err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
				continue // the caller died (or was interrupted) before we read it
			}
			return fmt.Errorf("receive notification: %w", err)
		}
		event := Event{
			Time: now.UTC(), Container: rec.container, Pid: req.Pid, Nr: req.Nr,
			Args: append([]uint64(nil), req.Args[:]...),
		}
		event.Arch, event.Syscall = names.lookup(req.Arch, req.Nr)
		if b != nil {
			n := broker.Notification{ID: req.ID, Pid: req.Pid, Nr: req.Nr, Arch: req.Arch, IP: req.IP, Args: req.Args}
			v := b.transparent.Handle(listener, n, brokerLog{rec: rec, event: event, now: now})
			if v.Answered {
				continue
			}
			event.Broker = v.Record
		}
		var args [6]uint64
		copy(args[:], event.Args)
		answer, canonical := ans.Answer(event.Syscall, args)
		// Learning: every use with the same arguments that matter is one
		// call to the recorder, which counts the repeats.
		event.Args = append(event.Args[:0], canonical[:]...)
		resp := seccompNotifResp{ID: req.ID}
		event.Action = answer.Action
		if answer.Errno == 0 {
			resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
		} else {
			resp.Error = -int32(answer.Errno)
			event.Errno = seccompgen.ErrnoName(answer.Errno)
		}
		if event.Syscall == "" {
			event.Syscall = "syscall_" + strconv.Itoa(int(event.Nr))
		}
		event.Decoded = DecodeArgs(event.Syscall, event.Arch, event.Args)
		// Record before answering: once the call returns, its line exists
		// (or, for a repeat, its count), so a log read after the plugin
		// exits misses nothing.
		rec.Call(event, now)
		if err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("answer notification: %w", err)
			}
			// Interrupted by a signal (the call will be made again) or
			// dead: it was not answered, so it is not counted twice.
			rec.Retract()
		}
	}
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
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

// auditArches maps the AUDIT_ARCH_* values of seccomp_data.arch to
// libseccomp's architectures.
var auditArches = map[uint32]libseccomp.ScmpArch{
	0xc000003e: libseccomp.ArchAMD64,
	0x40000003: libseccomp.ArchX86,
	0xc00000b7: libseccomp.ArchARM64,
	0x40000028: libseccomp.ArchARM,
}

// syscallNames caches the names of calls: a flood of one call asks once.
type syscallNames map[uint64][2]string

// lookup returns the architecture's name and the call's name ("" when no
// table knows the number).
func (c syscallNames) lookup(arch uint32, nr int32) (string, string) {
	key := uint64(arch)<<32 | uint64(uint32(nr))
	if v, ok := c[key]; ok {
		return v[0], v[1]
	}
	var v [2]string
	if a, ok := auditArches[arch]; ok {
		v[0] = a.String()
		v[1] = syscallName(a, libseccomp.ScmpSyscall(nr))
	} else {
		v[0] = fmt.Sprintf("audit-arch-%#x", arch)
	}
	if len(c) < 4096 {
		c[key] = v
	}
	return v[0], v[1]
}
