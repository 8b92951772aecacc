package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// A bundle may sit below a directory the container's root cannot enter: a
// 0700 directory from mktemp, /root, a private home. As root, plugbox maps
// the container's root to an unprivileged host uid, and libcontainer's init,
// already in the user namespace, reaches the rootfs by path (it bind-mounts
// config.Rootfs onto itself before pivot_root), so it would fail with
// EACCES. runc and crun have the same limit; a user should not have to open
// up a private directory to sandbox something.
//
// plugbox therefore starts such a container from an OS thread with a mount
// namespace of its own, in which the rootfs (opened by the host's root) is
// bound at a directory every uid can reach. libcontainer forks its init
// from that thread, so only the init sees the bind; the host's mount table
// never holds it, so a create killed at any moment leaves no mount behind.
// The empty mount point lives only while the container starts and is named
// after the creating process, so the next create removes one a killed
// create left.

// RootViewDir holds the mount points of rootfs views while containers start
// (0711, root's): every uid may pass through it, nobody else may write it.
var RootViewDir = "/run/plugbox-rootfs"

// rootView binds a bundle's rootfs at a reachable mount point for the
// duration of one container start.
type rootView struct {
	real       string   // config.Rootfs as the bundle has it
	mountpoint string   // RootViewDir/<pid>.<random>, bound to real in the view
	src        *os.File // O_PATH descriptor of real, opened by the host's root
}

// planRootView returns nil when the container's root can reach config's
// rootfs by path (or no user namespace maps it to another uid), and
// otherwise prepares a view: config.Rootfs then names the view's mount
// point until finish. A rootfs the container's root cannot enter itself is
// an error no view cures.
func planRootView(config *configs.Config) (*rootView, error) {
	uid, gid, ok := mappedRoot(config)
	if !ok || os.Geteuid() != 0 {
		return nil, nil
	}
	blocked, err := unreachableAncestor(config.Rootfs, uid, gid)
	if err != nil {
		return nil, err
	}
	if blocked == "" {
		return nil, nil
	}
	src, err := os.OpenFile(config.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("root filesystem %s: %w", config.Rootfs, err)
	}
	dir, err := rootViewDir()
	if err != nil {
		src.Close()
		return nil, err
	}
	removeStaleViews(dir)
	mp, err := os.MkdirTemp(dir, strconv.Itoa(os.Getpid())+".")
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("mount point for the root filesystem below %s: %w", blocked, err)
	}
	v := &rootView{real: config.Rootfs, mountpoint: mp, src: src}
	config.Rootfs = mp
	return v, nil
}

// start runs fn (which starts the container's init) on an OS thread whose
// mount namespace has the rootfs bound at the view's mount point. The
// thread ends with fn: its namespace, and the bind in it, go with it.
func (v *rootView) start(fn func() error) error {
	if v == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the Go runtime ends a locked thread whose
		// goroutine returns, so no other goroutine runs in this namespace.
		runtime.LockOSThread()
		if err := v.enter(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// enter gives the calling (locked) thread its own mount namespace, which
// receives no later host mounts' removals as its own and propagates
// nothing back, and binds the rootfs at the mount point in it.
func (v *rootView) enter() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("root filesystem view: unshare the mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("root filesystem view: make / a slave mount: %w", err)
	}
	// A mount of another namespace cannot be bound, so the rootfs is opened
	// again in this one, and must be the directory opened before.
	fd, err := unix.Open(v.real, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("root filesystem view: open %s: %w", v.real, err)
	}
	defer unix.Close(fd)
	var before, now unix.Stat_t
	if err := unix.Fstat(int(v.src.Fd()), &before); err != nil {
		return err
	}
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if before.Dev != now.Dev || before.Ino != now.Ino {
		return fmt.Errorf("root filesystem %s was replaced while the container was created", v.real)
	}
	src := "/proc/thread-self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, v.mountpoint, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("root filesystem view: bind %s at %s: %w", v.real, v.mountpoint, err)
	}
	return nil
}

// finish records the bundle's own rootfs path in libcontainer's state again
// (an exec'd process starts in it, entered by the host's root before any
// namespace) and removes the mount point, which no namespace uses any
// more: the init has pivoted into the rootfs.
func (v *rootView) finish(c *libcontainer.Container, config *configs.Config) error {
	if v == nil {
		return nil
	}
	defer v.release()
	config.Rootfs = v.real
	if c == nil {
		return nil
	}
	if err := c.Set(*config); err != nil {
		return fmt.Errorf("record the root filesystem %s: %w", v.real, err)
	}
	return nil
}

// release closes the rootfs descriptor and removes the mount point; a
// second call does nothing.
func (v *rootView) release() {
	if v == nil || v.src == nil {
		return
	}
	v.src.Close()
	v.src = nil
	// Not a mount point in the host's namespace: only something put in
	// it could stop the removal, and the next create retries.
	_ = os.Remove(v.mountpoint)
}

// rootViewDir creates RootViewDir (0711) if needed and checks that only
// root can write it and that it is no symbolic link.
func rootViewDir() (string, error) {
	dir := RootViewDir
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create %s (the mount points through which a container's root reaches a rootfs below a private directory): %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("%s is not a directory (it is %s): remove it; plugbox creates it", dir, fi.Mode().Type())
	case st.Uid != 0 || fi.Mode().Perm()&0o022 != 0:
		return "", fmt.Errorf("%s is owned by uid %d with mode %04o: only root may write it; remove it, plugbox creates it 0711", dir, st.Uid, fi.Mode().Perm())
	case fi.Mode().Perm()&0o001 == 0:
		return "", fmt.Errorf("%s has mode %04o: the container's root must pass through it; run 'chmod 711 %s'", dir, fi.Mode().Perm(), dir)
	}
	return dir, nil
}

// removeStaleViews removes the mount points of creates that were killed:
// those named after a process that no longer exists. In the host's mount
// namespace they are empty directories.
func removeStaleViews(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, _, ok := strings.Cut(e.Name(), ".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 {
			continue
		}
		if err := unix.Kill(n, 0); errors.Is(err, unix.ESRCH) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// mappedRoot returns the host uid and gid the container's root maps to,
// when config has a user namespace that maps it.
func mappedRoot(config *configs.Config) (uid, gid int, ok bool) {
	if !config.Namespaces.Contains(configs.NEWUSER) {
		return 0, 0, false
	}
	uid, gid = -1, -1
	for _, m := range config.UIDMappings {
		if m.ContainerID == 0 {
			uid = int(m.HostID)
		}
	}
	for _, m := range config.GIDMappings {
		if m.ContainerID == 0 {
			gid = int(m.HostID)
		}
	}
	if uid <= 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

// unreachableAncestor returns the first directory above rootfs that host
// uid and gid may not search (mode bits; ACLs are not consulted), or "".
// The rootfs itself must be searchable by them: the container works in it.
func unreachableAncestor(rootfs string, uid, gid int) (string, error) {
	fi, err := os.Stat(rootfs)
	if err != nil {
		return "", fmt.Errorf("root filesystem %s: %w", rootfs, err)
	}
	if !searchable(fi, uid, gid) {
		return "", fmt.Errorf("root filesystem %s (mode %04o, owner %d) cannot be entered by the container's root, host uid %d: run 'chmod 755 %s' (plugbox bundle init makes it 0755)", rootfs, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid, uid, rootfs)
	}
	for dir := filepath.Dir(rootfs); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return "", fmt.Errorf("root filesystem %s: %w", rootfs, err)
		}
		if !searchable(fi, uid, gid) {
			return dir, nil
		}
		if dir == "/" {
			return "", nil
		}
	}
}

// searchable reports whether uid and gid may search directory fi by its
// mode bits.
func searchable(fi fs.FileInfo, uid, gid int) bool {
	st := fi.Sys().(*syscall.Stat_t)
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == uid:
		return perm&0o100 != 0
	case int(st.Gid) == gid:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
