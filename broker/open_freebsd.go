package broker

import (
	"strings"

	"golang.org/x/sys/unix"
)

// oPath is FreeBSD's O_PATH (14.0), which x/sys/unix does not name.
const oPath = 0x00400000

// openBeneath opens rel beneath directory dirfd one component at a time,
// each with O_NOFOLLOW, so that no symbolic link is followed anywhere on
// the way (O_RESOLVE_BENEATH alone would follow links that stay inside);
// ".." never reaches here (DecideOpen refuses it).
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	parts := strings.Split(rel, "/")
	cur := dirfd
	for _, p := range parts[:len(parts)-1] {
		next, err := unix.Openat(cur, p, oPath|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RESOLVE_BENEATH, 0)
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, loopErr(err)
		}
		cur = next
	}
	fd, err := unix.Openat(cur, parts[len(parts)-1], flags|unix.O_NOFOLLOW|unix.O_RESOLVE_BENEATH, mode)
	if cur != dirfd {
		unix.Close(cur)
	}
	return fd, loopErr(err)
}

// loopErr maps FreeBSD's answer to O_NOFOLLOW on a link (EMLINK) to
// ELOOP, as Linux's openat2 says.
func loopErr(err error) error {
	if err == unix.EMLINK {
		return unix.ELOOP
	}
	return err
}

// openDir opens a rule's directory for openBeneath.
func openDir(path string) (int, error) {
	return unix.Open(path, oPath|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}
