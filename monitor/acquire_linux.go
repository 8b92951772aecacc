package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoListener means the sandbox closed the monitor socket without
// announcing a listener: the container went away before its plugin started.
var ErrNoListener = errors.New("the sandbox closed the monitor socket before its exec shim loaded a filter")

// announcement is what the exec shim sends before loading its filter:
// "PBLISTEN" and the listener's descriptor number (internal/shim's doc).
const announcement = "PBLISTEN"

// listenerWait bounds how long AcquireListener waits for the announced
// descriptor to appear (the shim's seccomp(2) call takes microseconds).
const listenerWait = 10 * time.Second

// spinFor is how long AcquireListener yields and retries before it sleeps
// between looks.
const spinFor = 500 * time.Microsecond

// AcquireListener takes the seccomp listener from the exec shim at the
// other end of sock (SOCK_SEQPACKET, SO_PASSCRED set on this end before the
// shim sent anything): it reads the shim's announcement, whose sender pid
// the kernel attached, copies the listener out of the shim with
// pidfd_getfd(2) once the shim has loaded its filter, and tells the shim to
// go on. No system call is added to the plugin's profile for this: the
// shim only waits in read(2) and then execs. The caller needs ptrace
// access to the shim (host root, or the owner of the sandbox's user
// namespace). The returned descriptor is close-on-exec.
func AcquireListener(sock *os.File) (int, error) {
	pid, nr, err := readAnnouncement(sock)
	if err != nil {
		return -1, err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("seccomp listener: pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	listener, err := takeListener(pidfd, pid, nr)
	if err != nil {
		return -1, err
	}
	if _, err := unix.Write(int(sock.Fd()), []byte{1}); err != nil {
		unix.Close(listener)
		return -1, fmt.Errorf("seccomp listener: release the exec shim: %w", err)
	}
	return listener, nil
}

// readAnnouncement returns the shim's pid, as the kernel saw it, and the
// descriptor number it announced.
func readAnnouncement(sock *os.File) (pid, nr int, err error) {
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("seccomp listener: read the exec shim's announcement: %w", err)
		}
		if n == 0 {
			return 0, 0, ErrNoListener
		}
		if n != len(announcement)+4 || string(buf[:len(announcement)]) != announcement {
			return 0, 0, fmt.Errorf("seccomp listener: malformed announcement from the exec shim (%d bytes)", n)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return 0, 0, fmt.Errorf("seccomp listener: announcement: %w", err)
		}
		for i := range msgs {
			if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil && cred.Pid > 0 {
				return int(cred.Pid), int(binary.NativeEndian.Uint32(buf[len(announcement):])), nil
			}
		}
		return 0, 0, errors.New("seccomp listener: the announcement carries no sender credentials (SO_PASSCRED is not set on the monitor's socket)")
	}
}

// takeListener copies descriptor nr out of process pid once it is the
// seccomp listener; until the shim's seccomp(2) returns, nr is not open.
func takeListener(pidfd, pid, nr int) (int, error) {
	start := time.Now()
	deadline := start.Add(listenerWait)
	pause := 50 * time.Microsecond
	for {
		fd, err := unix.PidfdGetfd(pidfd, nr, 0)
		if err == nil {
			if isListener(fd) {
				return fd, nil
			}
			unix.Close(fd)
			return -1, fmt.Errorf("seccomp listener: descriptor %d of the exec shim (pid %d) is not a seccomp listener", nr, pid)
		}
		if errors.Is(err, unix.ESRCH) {
			// Gone between two looks: pidfd_getfd finds no task to copy from.
			return -1, fmt.Errorf("seccomp listener: the exec shim (pid %d) exited before loading its filter", pid)
		}
		if !errors.Is(err, unix.EBADF) {
			return -1, fmt.Errorf("seccomp listener: pidfd_getfd(pid %d, fd %d): %w", pid, nr, err)
		}
		now := time.Now()
		if now.After(deadline) {
			return -1, fmt.Errorf("seccomp listener: the exec shim (pid %d) did not load its filter within %s", pid, listenerWait)
		}
		if now.Sub(start) < spinFor {
			// The load takes microseconds, less than a timed sleep
			// (timer slack): give the CPU to the shim and look again.
			_, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		// Sleep on the pidfd: it turns readable if the shim exits (a
		// filter it could not load).
		ts := unix.NsecToTimespec(pause.Nanoseconds())
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		if n, _ := unix.Ppoll(fds, &ts, nil); n > 0 {
			return -1, fmt.Errorf("seccomp listener: the exec shim (pid %d) exited before loading its filter", pid)
		}
		pause = min(2*pause, 5*time.Millisecond)
	}
}

// isListener reports whether fd is a seccomp user-notification listener.
func isListener(fd int) bool {
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return err == nil && link == "anon_inode:seccomp notify"
}
