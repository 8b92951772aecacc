package monitor

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pair returns the monitor's end (SO_PASSCRED) and the sandbox's end.
func pair(t *testing.T) (own, other *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	own, other = os.NewFile(uintptr(fds[0]), "own"), os.NewFile(uintptr(fds[1]), "other")
	t.Cleanup(func() { own.Close(); other.Close() })
	return own, other
}

func announce(nr uint32) []byte {
	return binary.NativeEndian.AppendUint32([]byte(announcement), nr)
}

func TestAcquireListenerFailsClosed(t *testing.T) {
	t.Run("the sandbox goes away first", func(t *testing.T) {
		own, other := pair(t)
		other.Close()
		if _, err := AcquireListener(own); !errors.Is(err, ErrNoListener) {
			t.Errorf("got %v, want ErrNoListener", err)
		}
	})
	t.Run("a malformed announcement", func(t *testing.T) {
		own, other := pair(t)
		other.Write([]byte("hello"))
		if _, err := AcquireListener(own); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("got %v, want a malformed announcement", err)
		}
	})
	t.Run("the announced descriptor is not a listener", func(t *testing.T) {
		own, other := pair(t)
		r, w, _ := os.Pipe()
		defer r.Close()
		defer w.Close()
		other.Write(announce(uint32(r.Fd()))) // from this process: a pipe
		if _, err := AcquireListener(own); err == nil || !strings.Contains(err.Error(), "not a seccomp listener") {
			t.Errorf("got %v, want a refusal of a descriptor that is not a listener", err)
		}
	})
	t.Run("the shim exits before loading its filter", func(t *testing.T) {
		own, other := pair(t)
		// A process that announces descriptor 9, never opens it, and exits.
		cmd := exec.Command("/bin/sh", "-c", `printf 'PBLISTEN\011\000\000\000' >&3; sleep 0.2`)
		cmd.ExtraFiles = []*os.File{other}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		_, err := AcquireListener(own)
		if err == nil || !strings.Contains(err.Error(), "exited before loading its filter") {
			t.Errorf("got %v, want the shim's exit reported", err)
		}
	})
}
