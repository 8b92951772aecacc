package jail

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flags of jail_set(2) and jail_get(2) (sys/jail.h).
const (
	FlagCreate = 0x01 // JAIL_CREATE
	FlagUpdate = 0x02 // JAIL_UPDATE
	FlagAttach = 0x04 // JAIL_ATTACH
)

// errmsgLen is the size of the "errmsg" buffer handed to the kernel
// (JAIL_ERRMSGLEN in libjail).
const errmsgLen = 1024

// iovCall runs a jail_set/jail_get/nmount style system call over params,
// appending an "errmsg" buffer whose text, when the kernel fills it, is
// returned in the error instead of the bare errno.
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

// Set calls jail_set(2) with params and flags and returns the jail id.
func Set(params []Param, flags int) (int, error) {
	return iovCall(unix.SYS_JAIL_SET, params, flags)
}

// Create creates a persistent jail from params (see Params) and returns its
// jid. The calling process stays outside the jail.
func Create(params []Param) (int, error) {
	jid, err := Set(params, FlagCreate)
	if err != nil {
		return -1, fmt.Errorf("jail_set(JAIL_CREATE): %w", err)
	}
	return jid, nil
}

// Find returns the jid of the live jail called name, or an error wrapping
// unix.ENOENT when there is none.
func Find(name string) (int, error) {
	jid, err := iovCall(unix.SYS_JAIL_GET, []Param{StringParam("name", name)}, 0)
	if err != nil {
		return -1, fmt.Errorf("jail_get %s: %w", name, err)
	}
	return jid, nil
}

// Attach moves the calling process into jail jid (jail_attach(2)): its root
// and working directory become the jail's path. FreeBSD credentials are
// per process, so this affects every thread.
func Attach(jid int) error {
	if _, _, errno := unix.Syscall(unix.SYS_JAIL_ATTACH, uintptr(jid), 0, 0); errno != 0 {
		return fmt.Errorf("jail_attach %d: %w", jid, errno)
	}
	return nil
}

// Remove kills every process of jail jid and removes it (jail_remove(2)).
// A jail that no longer exists is not an error.
func Remove(jid int) error {
	if _, _, errno := unix.Syscall(unix.SYS_JAIL_REMOVE, uintptr(jid), 0, 0); errno != 0 {
		if errors.Is(errno, unix.EINVAL) || errors.Is(errno, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("jail_remove %d: %w", jid, errno)
	}
	return nil
}
