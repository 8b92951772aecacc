package jail

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

func (f MountFlags) bits() int {
	var b int
	if f.ReadOnly {
		b |= unix.MNT_RDONLY
	}
	if f.NoSuid {
		b |= unix.MNT_NOSUID
	}
	if f.NoExec {
		b |= unix.MNT_NOEXEC
	}
	if f.NoAtime {
		b |= unix.MNT_NOATIME
	}
	return b
}

// Do mounts m with nmount(2); the kernel's errmsg text is in the error.
func (m Mount) Do() error {
	if _, err := iovCall(unix.SYS_NMOUNT, m.NmountParams(), m.Flags.bits()); err != nil {
		return fmt.Errorf("nmount %s on %s: %w", m.FSType, m.Target, err)
	}
	return nil
}

// Unmount unmounts target, forcing it (MNT_FORCE) when a plain unmount
// finds it busy. A target that is no longer a mount point is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_FORCE)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}
