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

	"github.com/plugbox/plugbox/seccompgen"
)

// Serve answers notifications on listener until every process using the
// filter has exited, as ans says, writing one JSON line per recorded call
// to log before answering it.
func Serve(listener int, ans *Answerer, container string, log io.Writer) error {
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
		var args [6]uint64
		copy(args[:], event.Args)
		answer, record := ans.Answer(event.Syscall, args)
		resp := &libseccomp.ScmpNotifResp{ID: req.ID}
		event.Action = answer.Action
		if answer.Errno == 0 {
			resp.Flags = libseccomp.NotifRespFlagContinue
		} else {
			resp.Error = int32(answer.Errno)
			event.Errno = seccompgen.ErrnoName(answer.Errno)
		}
		if event.Syscall == "" {
			event.Syscall = "syscall_" + strconv.Itoa(int(event.Nr))
		}
		// Log before answering: once the call returns, its record exists,
		// so a log read after the plugin exits misses nothing.
		if record {
			event.Decoded = DecodeArgs(event.Syscall, event.Arch, event.Args)
			_ = enc.Encode(event)
		}
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
