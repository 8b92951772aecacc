package bundle

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// dirTree is a directory plugbox writes into only through descriptors:
// every path is opened relative to the tree's own descriptor and no
// symbolic link is followed on the way, so a link planted in the tree (or
// the tree's path swapped after it was opened) cannot redirect a write
// outside it.
type dirTree struct {
	fd   int    // O_DIRECTORY descriptor of the tree's top
	name string // host path of the top, for messages
}

// openTree opens the directory at host path name, which must not be a
// symbolic link itself.
func openTree(name string) (*dirTree, error) {
	fd, err := unix.Open(name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return &dirTree{fd: fd, name: name}, nil
}

func (t *dirTree) close() error { return unix.Close(t.fd) }

// where names rel inside the tree in messages.
func (t *dirTree) where(rel string) string {
	if rel == "" || rel == "." {
		return t.name
	}
	return t.name + "/" + rel
}

// cleanRel turns an absolute or relative path into a clean path relative
// to the tree's top, refusing ".." so nothing can climb out.
func cleanRel(p string) (string, error) {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q contains \"..\"", p)
		}
	}
	return rel, nil
}

// split returns the directory part and the last name of rel.
func split(rel string) (dir, base string) {
	dir, base = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), base
}

// openDir opens directory rel beneath the tree without following links.
func (t *dirTree) openDir(rel string) (int, error) {
	if rel == "" || rel == "." {
		fd, err := unix.Dup(t.fd)
		if err == nil {
			unix.CloseOnExec(fd)
		}
		return fd, err
	}
	fd, err := openBeneath(t.fd, rel, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		return -1, t.pathError("open", rel, err)
	}
	return fd, nil
}

// pathError describes err for rel, naming a symbolic link as such.
func (t *dirTree) pathError(op, rel string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
		if link := t.firstLink(rel); link != "" {
			return fmt.Errorf("%s %s: %s is a symbolic link, which plugbox never follows while authoring: start from an empty directory", op, t.where(rel), t.where(link))
		}
	}
	return &os.PathError{Op: op, Path: t.where(rel), Err: err}
}

// firstLink returns the first component of rel that is a symbolic link.
func (t *dirTree) firstLink(rel string) string {
	cur := ""
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		fi, err := os.Lstat(t.where(cur))
		if err != nil {
			return ""
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return cur
		}
	}
	return ""
}

// mkdirAll creates directory rel and its missing parents with mode (the
// umask does not apply), refusing symbolic links on the way.
func (t *dirTree) mkdirAll(rel string, mode uint32) error {
	rel, err := cleanRel(rel)
	if err != nil {
		return err
	}
	fd, err := t.openDir("")
	if err != nil {
		return err
	}
	done := ""
	for _, part := range strings.Split(rel, "/") {
		if part == "" {
			continue
		}
		done = path.Join(done, part)
		created := true
		if err := unix.Mkdirat(fd, part, mode); err != nil {
			if !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return t.pathError("mkdir", done, err)
			}
			created = false
		}
		next, err := unix.Openat(fd, part, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("mkdir %s: it exists and is not a directory (a symbolic link or a file)", t.where(done))
			}
			return t.pathError("open", done, err)
		}
		fd = next
		if created {
			if err := unix.Fchmod(fd, mode); err != nil {
				unix.Close(fd)
				return t.pathError("chmod", done, err)
			}
		}
	}
	return unix.Close(fd)
}

// chmod sets the mode of rel (a directory or regular file) through a
// descriptor, so a link cannot redirect it.
func (t *dirTree) chmod(rel string, mode uint32) error {
	fd, err := openBeneath(t.fd, rel, unix.O_RDONLY, 0)
	if err != nil {
		return t.pathError("open", rel, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, mode); err != nil {
		return t.pathError("chmod", rel, err)
	}
	return nil
}

// create makes the new regular file rel (it must not exist) with mode,
// set on the descriptor so the umask does not apply.
func (t *dirTree) create(rel string, mode uint32) (*os.File, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, err
	}
	dir, base := split(rel)
	dfd, err := t.openDir(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create %s: it already exists", t.where(rel))
		}
		return nil, t.pathError("create", rel, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		unix.Close(fd)
		return nil, t.pathError("chmod", rel, err)
	}
	return os.NewFile(uintptr(fd), t.where(rel)), nil
}

// writeFile creates rel with data and mode, replacing nothing.
func (t *dirTree) writeFile(rel string, data []byte, mode uint32) error {
	f, err := t.create(rel, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// placeFile writes data to a temporary name in directory rel's parent and
// links it at rel, which must not exist: a reader never sees a torn file.
func (t *dirTree) placeFile(rel string, data []byte, mode uint32) error {
	rel, err := cleanRel(rel)
	if err != nil {
		return err
	}
	dir, base := split(rel)
	tmp := path.Join(dir, "."+base+".new")
	if err := t.writeFile(tmp, data, mode); err != nil {
		return err
	}
	dfd, err := t.openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	defer unix.Unlinkat(dfd, "."+base+".new", 0)
	if err := unix.Linkat(dfd, "."+base+".new", dfd, base, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s already exists: remove it or choose another directory", t.where(rel))
		}
		return t.pathError("link", rel, err)
	}
	return nil
}

// symlink creates rel as a symbolic link to target, or accepts an existing
// link with the same target.
func (t *dirTree) symlink(target, rel string) error {
	rel, err := cleanRel(rel)
	if err != nil {
		return err
	}
	dir, base := split(rel)
	dfd, err := t.openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	err = unix.Symlinkat(target, dfd, base)
	if !errors.Is(err, unix.EEXIST) {
		if err != nil {
			return t.pathError("symlink", rel, err)
		}
		return nil
	}
	buf := make([]byte, 4096)
	n, lerr := unix.Readlinkat(dfd, base, buf)
	switch {
	case lerr == nil && string(buf[:n]) == target:
		return nil
	case lerr == nil:
		return fmt.Errorf("rootfs %s already links to %q, but the host's links to %q", t.where(rel), buf[:n], target)
	}
	return fmt.Errorf("rootfs %s already exists, but on the host it is a symbolic link to %q", t.where(rel), target)
}

// exists reports whether rel exists (as anything, links not followed).
func (t *dirTree) exists(rel string) bool {
	rel, err := cleanRel(rel)
	if err != nil {
		return false
	}
	dir, base := split(rel)
	dfd, err := t.openDir(dir)
	if err != nil {
		return false
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	return unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// walkBeneath opens rel relative to dirfd one component at a time, each
// with O_NOFOLLOW, refusing "..": the portable equivalent of openat2's
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS.
func walkBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur, owned := dirfd, false
	for i, part := range parts {
		if part == ".." {
			if owned {
				unix.Close(cur)
			}
			return -1, unix.EXDEV
		}
		fl := unix.O_DIRECTORY | unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i == len(parts)-1 {
			fl = flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		if part == "" || part == "." {
			if i < len(parts)-1 {
				continue
			}
			part = "."
		}
		fd, err := unix.Openat(cur, part, fl, mode)
		if owned {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur, owned = fd, true
	}
	if !owned {
		return unix.Dup(dirfd)
	}
	return cur, nil
}

// fileID is what identifies a file on the host: device, inode and type.
type fileID struct {
	Dev uint64
	Ino uint64
	Dir bool
}

// statNoFollow opens absolute host path p without following any symbolic
// link in it (the path must already be fully resolved) and returns its
// identity, read from the descriptor.
func statNoFollow(p string) (fileID, error) {
	rel, err := cleanRel(p)
	if err != nil {
		return fileID{}, err
	}
	root, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(root)
	fd, err := openBeneath(root, rel, pathOnlyFlag, 0)
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fileID{}, unix.ELOOP // O_PATH|O_NOFOLLOW opened the link itself
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Dir: st.Mode&unix.S_IFMT == unix.S_IFDIR}, nil
}
