package bundle

import (
	"errors"

	"golang.org/x/sys/unix"
)

// pathOnlyFlag opens a file only to identify it (no read permission needed,
// no side effect on FIFOs or devices).
const pathOnlyFlag = unix.O_PATH

// openBeneath opens rel relative to dirfd with openat2, refusing any
// symbolic link (RESOLVE_NO_SYMLINKS), magic /proc link or ".." out of
// dirfd (RESOLVE_BENEATH); kernels without openat2 (before 5.6) get the
// component-by-component walk.
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(dirfd, rel, how)
		switch {
		case (errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN)) && try < 16:
			continue // a concurrent rename; openat2 asks to retry
		case errors.Is(err, unix.ENOSYS):
			return walkBeneath(dirfd, rel, flags, mode)
		}
		return fd, err
	}
}
