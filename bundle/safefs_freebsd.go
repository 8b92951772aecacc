package bundle

import "golang.org/x/sys/unix"

// pathOnlyFlag opens a file only to identify it; O_NONBLOCK keeps a FIFO
// from blocking the open.
const pathOnlyFlag = unix.O_RDONLY | unix.O_NONBLOCK

// openBeneath opens rel relative to dirfd one component at a time with
// O_NOFOLLOW, so no symbolic link is followed and ".." is refused.
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	return walkBeneath(dirfd, rel, flags, mode)
}
