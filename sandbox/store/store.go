// Package store keeps plugbox's state root, the same way on every platform:
// one directory per container under a root that only the caller can write,
// created and checked so that another local user can neither plant the root
// nor swap what plugbox later trusts in it (state.json, hooks, pids), and
// one lock per container, an flock(2) on its directory, taken by every verb
// that changes it. Independent containers never wait for each other.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sentinel errors callers test with errors.Is (package sandbox re-exports
// them).
var (
	// ErrNotExist means no container with that ID exists under the root.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist means a container with that ID already exists under the root.
	ErrExist = errors.New("container already exists")
)

// MaxIDLen is the longest container ID: the ID names a directory under the
// root and a cgroup directory, and a file name has at most 255 bytes.
const MaxIDLen = 255

// ValidateID accepts what runc accepts (letters, digits, '_', '+', '-' and
// '.', but not "." or ".."), up to MaxIDLen bytes.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("invalid container ID \"\": give a name of letters, digits, '_', '+', '-' and '.'")
	case len(id) > MaxIDLen:
		return fmt.Errorf("invalid container ID %q... (%d bytes): at most %d bytes, as it names a directory and a cgroup", id[:32], len(id), MaxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("invalid container ID %q: use letters, digits, '_', '+', '-' and '.'", id)
	}
	for _, r := range id {
		ok := r == '_' || r == '+' || r == '-' || r == '.' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("invalid container ID %q: %q is not allowed; use letters, digits, '_', '+', '-' and '.'", id, r)
		}
	}
	return nil
}

// Root is a checked state root.
type Root struct {
	path string // absolute, symlinks resolved
	uid  int    // the caller, who must own every directory plugbox trusts
}

// Open returns the state root at path, creating it and any missing parent
// 0700. It refuses, naming the fix, a root another user owns or that group
// or others can write, and a root below a directory that someone other than
// the caller or root could rename it out of (writable without the sticky
// bit, or owned by another user).
func Open(path string) (*Root, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", path, err)
	}
	uid := os.Geteuid()
	real, err := walk(abs, uid)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", abs, err)
	}
	if owner := ownerOf(st); owner != uid {
		return nil, fmt.Errorf("state root %s is owned by uid %d, not by you (uid %d): another user may have planted it to run code as you; remove it, or pass a --root you own", abs, owner, uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("state root %s is writable by group or others (mode %04o), who could swap container state: run 'chmod 700 %s', or pass another --root", abs, st.Mode().Perm(), abs)
	}
	return &Root{path: real, uid: uid}, nil
}

// walk checks every component of abs from "/" down, creates the missing
// ones 0700 and returns abs with symlinks resolved. Components that
// already exist must be directories owned by root or uid that nobody else
// can write (unless sticky, like /tmp); symlinks must be owned by root or
// uid.
func walk(abs string, uid int) (string, error) {
	cur := "/"
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(abs), "/"), "/")
	for i, name := range parts {
		if name == "" {
			continue
		}
		next := filepath.Join(cur, name)
		st, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(next, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("state root %s: cannot create %s: %w", abs, next, err)
			}
			st, err = os.Lstat(next)
		}
		if err != nil {
			return "", fmt.Errorf("state root %s: %w", abs, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if owner := ownerOf(st); owner != 0 && owner != uid {
				return "", fmt.Errorf("state root %s: %s is a symbolic link owned by uid %d, who could point it elsewhere: pass a --root without it", abs, next, owner)
			}
			if next, err = filepath.EvalSymlinks(next); err != nil {
				return "", fmt.Errorf("state root %s: %w", abs, err)
			}
			if st, err = os.Stat(next); err != nil {
				return "", fmt.Errorf("state root %s: %w", abs, err)
			}
		}
		if !st.IsDir() {
			return "", fmt.Errorf("state root %s: %s is not a directory: pass another --root", abs, next)
		}
		if i < len(parts)-1 {
			if err := checkParent(abs, next, st, uid); err != nil {
				return "", err
			}
		}
		cur = next
	}
	return cur, nil
}

// checkParent refuses a directory above the root through which another
// user could replace the root.
func checkParent(abs, dir string, st fs.FileInfo, uid int) error {
	if owner := ownerOf(st); owner != 0 && owner != uid {
		return fmt.Errorf("state root %s: %s is owned by uid %d, who could replace the state directory: choose a --root below directories owned by you or root", abs, dir, owner)
	}
	if st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("state root %s: %s is writable by group or others (mode %04o) without the sticky bit, so they could replace the state directory: choose a --root whose parent directories only you and root can write", abs, dir, st.Mode().Perm())
	}
	return nil
}

func ownerOf(st fs.FileInfo) int { return int(st.Sys().(*syscall.Stat_t).Uid) }

// Path returns the root's absolute path.
func (r *Root) Path() string { return r.path }

// Dir returns the state directory of container id.
func (r *Root) Dir(id string) string { return filepath.Join(r.path, id) }

// Check returns nil when container id has a state directory plugbox made
// (a directory, not a link, owned by the caller, writable by nobody else),
// ErrNotExist when it has none, and otherwise an error naming the fix.
func (r *Root) Check(id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	dir := r.Dir(id)
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("container %q: %w (see 'plugbox list')", id, ErrNotExist)
	case err != nil:
		return fmt.Errorf("container %q: %w", id, err)
	case !st.IsDir():
		return fmt.Errorf("container %q: %s is not a directory plugbox made: remove it", id, dir)
	}
	return r.checkDir(dir, st)
}

// List returns the IDs of the container directories under the root, in
// directory order. Entries that are not valid IDs (temporary files) are
// left out.
func (r *Root) List() ([]string, error) {
	entries, err := os.ReadDir(r.path)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.path, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Lock is a held lock on one container's state directory.
type Lock struct {
	f   *os.File
	dir string
}

// Create makes the state directory of container id (0700) and returns it
// locked. An existing directory is ErrExist: mkdir is the uniqueness
// guard, so two creates of one ID never both proceed.
func (r *Root) Create(id string) (*Lock, error) {
	dir := r.Dir(id)
	// A delete may remove the new, still empty directory before it is
	// locked (it cannot tell it from an interrupted create); then try again.
	for attempt := 0; attempt < 10; attempt++ {
		if err := os.Mkdir(dir, 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("container %q: %w", id, ErrExist)
			}
			return nil, fmt.Errorf("create %s: %w", id, err)
		}
		l, err := r.lock(id, unix.LOCK_EX)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		return l, err
	}
	return nil, fmt.Errorf("create %s: its state directory %s keeps disappearing (a delete of the same ID in a loop?)", id, dir)
}

// Lock waits for and takes the exclusive lock of container id. A container
// without a state directory, or one removed while waiting, is ErrNotExist.
func (r *Root) Lock(id string) (*Lock, error) { return r.lock(id, unix.LOCK_EX) }

// LockShared waits for and takes container id's lock shared with other
// readers (for a backend whose reads must not see a half-written state).
func (r *Root) LockShared(id string) (*Lock, error) { return r.lock(id, unix.LOCK_SH) }

// TryLock takes the exclusive lock of container id if nobody holds it;
// busy reports that someone does (a create, delete or start in progress).
func (r *Root) TryLock(id string) (l *Lock, busy bool, err error) {
	l, err = r.lock(id, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, true, nil
	}
	return l, false, err
}

func (r *Root) lock(id string, how int) (*Lock, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := r.Dir(id)
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w (see 'plugbox list')", id, ErrNotExist)
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("container %q: %s is not a directory plugbox made: remove it", id, dir)
		}
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = r.checkDir(dir, st)
	}
	if err == nil {
		if err = unix.Flock(int(f.Fd()), how); err != nil && !errors.Is(err, unix.EWOULDBLOCK) {
			err = fmt.Errorf("lock %s: %w", dir, err)
		}
	}
	if err == nil && !samePath(dir, st) {
		// Removed (or removed and made anew) while this process waited.
		err = fmt.Errorf("container %q: %w (deleted meanwhile)", id, ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f, dir: dir}, nil
}

// checkDir refuses a container directory plugbox did not make: another
// owner, or writable by group or others.
func (r *Root) checkDir(dir string, st fs.FileInfo) error {
	if owner := ownerOf(st); owner != r.uid {
		return fmt.Errorf("state directory %s is owned by uid %d, not by you (uid %d): it was not made by plugbox; remove it", dir, owner, r.uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state directory %s is writable by group or others (mode %04o): it was not made by plugbox; remove it", dir, st.Mode().Perm())
	}
	return nil
}

// samePath reports whether path still names the directory st describes.
func samePath(path string, st fs.FileInfo) bool {
	now, err := os.Lstat(path)
	return err == nil && os.SameFile(now, st)
}

// Dir returns the locked state directory.
func (l *Lock) Dir() string { return l.dir }

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l.f != nil {
		_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// RemoveAll removes the locked state directory and everything in it, then
// releases the lock. A process waiting for the lock then sees ErrNotExist.
func (l *Lock) RemoveAll() error {
	defer l.Unlock()
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("remove state directory: %w", err)
	}
	return nil
}
