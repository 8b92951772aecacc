package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
)

// Serve answers notifications on listener until every process using the
// filter has exited, writing one JSON line per call to log. With b, the
// broker answers the calls it handles first (see broker.Transparent).
func Serve(listener int, mode Mode, container string, log io.Writer, b *broker.Transparent) error {
	enc := json.NewEncoder(log)
	fd := libseccomp.ScmpFd(listener)
	for {
		fds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("poll seccomp listener: %w", err)
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return nil // POLLHUP: no process uses the filter any more
		}
		req, err := libseccomp.NotifReceive(fd)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				continue // the caller died before we read it
			}
			return fmt.Errorf("receive notification: %w", err)
		}
		event := eventOf(req, container)
		if b != nil {
			v := b.Handle(listener, notificationOf(req))
			if event.Broker = v.Record; v.Answered {
				if v.Record != nil {
					event.Action = ActionRefused
					if v.Record.Granted {
						event.Action = ActionGranted
					}
					_ = enc.Encode(event)
				}
				continue
			}
		}
		resp := &libseccomp.ScmpNotifResp{ID: req.ID}
		switch {
		case mode == Learning:
			resp.Flags = libseccomp.NotifRespFlagContinue
			event.Action = "allowed"
		case event.Syscall == "":
			// Newer than libseccomp's table: ENOSYS lets libc fall back.
			resp.Error = int32(unix.ENOSYS)
			event.Action = "denied"
		default:
			resp.Error = int32(unix.EPERM)
			event.Action = "denied"
		}
		if event.Syscall == "" {
			event.Syscall = "syscall_" + strconv.Itoa(int(event.Nr))
		}
		// Log before answering: once the call returns, its record exists,
		// so a log read after the plugin exits misses nothing.
		_ = enc.Encode(event)
		if err := libseccomp.NotifRespond(fd, resp); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("answer notification: %w", err)
		}
	}
}

// eventOf describes a notification; Syscall is "" when libseccomp does not
// know the number.
func eventOf(req *libseccomp.ScmpNotifReq, container string) Event {
	name := syscallName(req.Data.Arch, req.Data.Syscall)
	return Event{
		Time:      time.Now().UTC(),
		Container: container,
		Pid:       req.Pid,
		Arch:      req.Data.Arch.String(),
		Syscall:   name,
		Nr:        int32(req.Data.Syscall),
		Args:      append([]uint64(nil), req.Data.Args...),
	}
}

// notificationOf is req as the broker reads it.
func notificationOf(req *libseccomp.ScmpNotifReq) broker.Notification {
	n := broker.Notification{ID: req.ID, Pid: req.Pid, Nr: int32(req.Data.Syscall), IP: req.Data.InstrPointer}
	n.Arch, _ = auditArch(req.Data.Arch)
	copy(n.Args[:], req.Data.Args)
	return n
}
