package broker

import (
	"errors"

	"golang.org/x/sys/unix"
)

// resolveBeneath is how every brokered file is looked up: beneath the
// rule's directory, through no symbolic link (and so no magic link such as
// /proc/self/fd/N), whatever the path says.
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS

// openBeneath opens rel beneath directory dirfd with openat2(2); a
// symbolic link anywhere on the way fails with ELOOP, a way out with EXDEV.
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: resolveBeneath}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dirfd, rel, how)
		// EAGAIN: a rename raced the lookup; the kernel asks to retry.
		if errors.Is(err, unix.EAGAIN) && tries < 8 || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// openDir opens a rule's directory for openBeneath.
func openDir(path string) (int, error) {
	return unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}
