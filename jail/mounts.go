package jail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MountFlags are the generic nmount(2) flags a mount entry maps to.
type MountFlags struct {
	ReadOnly bool // MNT_RDONLY
	NoSuid   bool // MNT_NOSUID
	NoExec   bool // MNT_NOEXEC
	NoAtime  bool // MNT_NOATIME
}

// Bits returns the nmount(2) flags (MNT_* of sys/mount.h).
func (f MountFlags) Bits() int {
	var b int
	if f.ReadOnly {
		b |= 0x1 // MNT_RDONLY
	}
	if f.NoExec {
		b |= 0x4 // MNT_NOEXEC
	}
	if f.NoSuid {
		b |= 0x8 // MNT_NOSUID
	}
	if f.NoAtime {
		b |= 0x10000000 // MNT_NOATIME
	}
	return b
}

// Mount is one planned host-side mount into the jail's root.
type Mount struct {
	// Index is the position in config.json mounts, or -1 for the read-only
	// remount of the root itself.
	Index  int
	FSType string // nullfs, devfs, tmpfs, fdescfs or procfs
	// Source is the host path a nullfs mount exposes.
	Source string
	// Dest is the path inside the container, for messages.
	Dest string
	// Target is the absolute host path mounted on (rootfs + Dest).
	Target string
	// File is true when a nullfs source is a regular file, so the mount
	// point must be a file too.
	File  bool
	Flags MountFlags
	// Ruleset is the devfs ruleset of a devfs mount.
	Ruleset int
	Options []Param // file-system specific options, e.g. ruleset for devfs
}

// linuxOnlyFS are mount types with no FreeBSD counterpart that Linux bundles
// commonly carry. Skipping them hides nothing and grants nothing.
var linuxOnlyFS = map[string]bool{"sysfs": true, "cgroup": true, "cgroup2": true, "mqueue": true, "devpts": true, "securityfs": true}

// ignoredOptions carry Linux propagation or atime semantics that have no
// FreeBSD meaning; they neither widen nor narrow access.
var ignoredOptions = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	"unbindable": true, "runbindable": true, "relatime": true, "norelatime": true, "strictatime": true,
	"nodev": true, "dev": true, "atime": true, "rw": true, "suid": true, "exec": true, "sync": true, "async": true,
}

// PlanMounts maps config.json root.readonly and mounts to host-side mounts
// under rootfs, in the order they must be made. A read-only root becomes a
// nullfs mount of the root onto itself, first, so later mounts stack on it.
// skipped lists the Linux-only entries (sysfs, cgroup, …) left out.
// Relative nullfs sources are resolved against bundle.
func PlanMounts(rootfs, bundle string, spec *specs.Spec) (plan []Mount, skipped []string, err error) {
	if spec == nil {
		return nil, nil, nil
	}
	if spec.Root != nil && spec.Root.Readonly {
		plan = append(plan, Mount{Index: -1, FSType: "nullfs", Source: rootfs, Dest: "/", Target: rootfs, Flags: MountFlags{ReadOnly: true}})
	}
	for i, m := range spec.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		if linuxOnlyFS[m.Type] {
			skipped = append(skipped, fmt.Sprintf("%s (%s on %s)", field, m.Type, m.Destination))
			continue
		}
		pm, err := planMount(field, i, rootfs, bundle, m)
		if err != nil {
			return nil, nil, err
		}
		plan = append(plan, pm)
	}
	return plan, skipped, nil
}

func planMount(field string, i int, rootfs, bundle string, m specs.Mount) (Mount, error) {
	if !filepath.IsAbs(m.Destination) {
		return Mount{}, fmt.Errorf("%s.destination: %q must be an absolute path inside the container", field, m.Destination)
	}
	dest := filepath.Clean(m.Destination)
	if dest == "/" {
		return Mount{}, fmt.Errorf("%s.destination: mounting over / is not supported; use root.path for the root file system", field)
	}
	pm := Mount{Index: i, Dest: dest, Target: filepath.Join(rootfs, dest)}
	bind := false
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			bind = true
		}
	}
	switch {
	case m.Type == "nullfs" || m.Type == "bind" || (bind && (m.Type == "" || m.Type == "none")):
		pm.FSType = "nullfs"
		if m.Source == "" {
			return Mount{}, fmt.Errorf("%s.source: a bind (nullfs) mount needs the host path to expose", field)
		}
		pm.Source = m.Source
		if !filepath.IsAbs(pm.Source) {
			pm.Source = filepath.Join(bundle, pm.Source)
		}
		pm.Source = filepath.Clean(pm.Source)
	case m.Type == "devfs", m.Type == "tmpfs", m.Type == "fdescfs":
		pm.FSType = m.Type
	case m.Type == "proc" || m.Type == "procfs":
		pm.FSType = "procfs"
	default:
		return Mount{}, fmt.Errorf("%s.type: %q is not supported on FreeBSD; use nullfs (or the bind option), devfs, tmpfs, fdescfs or procfs", field, m.Type)
	}
	ruleset := -1
	for j, o := range m.Options {
		ofield := fmt.Sprintf("%s.options[%d]", field, j)
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case o == "bind" || o == "rbind" || ignoredOptions[o]:
		case o == "ro":
			pm.Flags.ReadOnly = true
		case o == "nosuid":
			pm.Flags.NoSuid = true
		case o == "noexec":
			pm.Flags.NoExec = true
		case o == "noatime":
			pm.Flags.NoAtime = true
		case hasVal && key == "ruleset" && pm.FSType == "devfs":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 65535 {
				return Mount{}, fmt.Errorf("%s: %q: the devfs ruleset must be a number 1..65535 (0 hides nothing); 4 is devfsrules_jail", ofield, o)
			}
			ruleset = n
		case hasVal && (key == "size" || key == "mode" || key == "uid" || key == "gid" || key == "inodes") && pm.FSType == "tmpfs":
			if val == "" || strings.IndexByte(val, 0) >= 0 {
				return Mount{}, fmt.Errorf("%s: %q needs a value", ofield, o)
			}
			pm.Options = append(pm.Options, StringParam(key, val))
		default:
			return Mount{}, fmt.Errorf("%s: %q is not supported for %s on FreeBSD; remove it", ofield, o, pm.FSType)
		}
	}
	if pm.FSType == "devfs" {
		if ruleset < 0 {
			ruleset = DefaultDevfsRuleset
		}
		pm.Ruleset = ruleset
		pm.Options = append(pm.Options, StringParam("ruleset", strconv.Itoa(ruleset)))
	}
	return pm, nil
}

// NmountParams returns the nmount(2) options of m ("fstype", "fspath", the
// source as "target" for nullfs or "from" otherwise, and its own options);
// the caller adds "errmsg".
func (m Mount) NmountParams() []Param {
	ps := []Param{StringParam("fstype", m.FSType), StringParam("fspath", m.Target)}
	if m.FSType == "nullfs" {
		ps = append(ps, StringParam("target", m.Source))
	} else {
		ps = append(ps, StringParam("from", m.FSType))
	}
	return append(ps, m.Options...)
}

// ResolveInRoot checks that every existing component of dest below rootfs is
// a directory that is not a symbolic link, so a mount cannot be redirected
// out of the root by a link planted in the bundle. The final component may
// be a file when file is true. Missing components are fine: Prepare
// creates them.
func ResolveInRoot(rootfs, dest string, file bool) error {
	_, err := walkTarget(rootfs, dest, file, false)
	return err
}

// VerifyTarget checks again, right before nmount(2), that dest below
// rootfs is reached without a symbolic link and exists as a directory (or
// a regular file with one link, when file): it opens every component from
// the root's descriptor with O_NOFOLLOW, so a component swapped for a link
// since Prepare is caught. nmount(2) takes only a path, so what remains is
// the window between this check and the kernel's own lookup; the caller
// confirms afterwards with statfs(2) that the mount covers target.
func VerifyTarget(rootfs, dest string, file bool) error {
	missing, err := walkTarget(rootfs, dest, file, false)
	if err != nil {
		return err
	}
	if missing != "" {
		return fmt.Errorf("%s: %s disappeared after it was created", dest, missing)
	}
	return nil
}

// walkTarget opens each component of dest from rootfs with O_NOFOLLOW,
// creating missing ones when create (directories 0755, or an empty 0644
// file last when file). It returns the first missing component when not
// creating.
func walkTarget(rootfs, dest string, file, create bool) (missing string, err error) {
	rel, err := filepath.Rel(rootfs, filepath.Join(rootfs, dest))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the root %s", dest, rootfs)
	}
	dirfd, err := unix.Open(rootfs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open root %s: %w", rootfs, err)
	}
	defer func() { unix.Close(dirfd) }()
	if rel == "." {
		return "", nil
	}
	parts := strings.Split(rel, string(filepath.Separator))
	cur := rootfs
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		last := i == len(parts)-1
		wantFile := last && file
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
		if !wantFile {
			flags |= unix.O_DIRECTORY
		}
		fd, err := unix.Openat(dirfd, part, flags, 0)
		if errors.Is(err, unix.ENOENT) {
			if !create {
				return cur, nil
			}
			if wantFile {
				fd, err = unix.Openat(dirfd, part, flags|unix.O_CREAT|unix.O_EXCL, 0o644)
			} else if err = unix.Mkdirat(dirfd, part, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				fd, err = unix.Openat(dirfd, part, flags, 0)
			}
		}
		if err != nil {
			return "", describeComponent(dirfd, part, cur, dest, wantFile, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return "", fmt.Errorf("%s: %w", cur, err)
		}
		switch {
		case wantFile && st.Mode&unix.S_IFMT == unix.S_IFDIR:
			unix.Close(fd)
			return "", fmt.Errorf("%s: the source is a file but %s is a directory", dest, cur)
		case wantFile && st.Mode&unix.S_IFMT != unix.S_IFREG:
			unix.Close(fd)
			return "", fmt.Errorf("%s: %s is not a regular file; a file can only be mounted on a regular file", dest, cur)
		case wantFile && uint64(st.Nlink) != 1:
			// vfs_domount_first refuses a covered VREG with va_nlink != 1
			// with a bare EINVAL.
			unix.Close(fd)
			return "", fmt.Errorf("%s: %s has %d hard links, and FreeBSD mounts a file only on a file with one; choose another destination, or replace it with a copy in the rootfs", dest, cur, st.Nlink)
		}
		unix.Close(dirfd)
		dirfd = fd
	}
	return "", nil
}

// describeComponent turns an openat failure on part into a message that
// names the path and why it cannot be a mount point.
func describeComponent(dirfd int, part, cur, dest string, wantFile bool, err error) error {
	var st unix.Stat_t
	if serr := unix.Fstatat(dirfd, part, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return fmt.Errorf("%s: %s is a symbolic link; mount destinations may not pass through links in the rootfs, use the real path", dest, cur)
		case unix.S_IFDIR:
			if wantFile {
				return fmt.Errorf("%s: the source is a file but %s is a directory", dest, cur)
			}
		default:
			if !wantFile {
				return fmt.Errorf("%s: %s is not a directory", dest, cur)
			}
		}
	}
	return fmt.Errorf("%s: %s: %w", dest, cur, err)
}

// Prepare checks m's source and mount point and creates the mount point
// (directories 0755, an empty 0644 file for a file source) when missing,
// walking from the root's descriptor so no link in the rootfs is followed.
// nullfs mounts a directory on a directory or a regular file on a regular
// file (nullfs_mount refuses anything else with EINVAL), so other sources
// are refused here.
func (m *Mount) Prepare(rootfs string) error {
	if m.FSType == "nullfs" {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mounts[%d].source: %w", m.Index, err)
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return fmt.Errorf("mounts[%d].source: %s is a %s; FreeBSD's nullfs binds only directories and regular files (bind the directory that holds it instead)", m.Index, m.Source, fileType(fi.Mode()))
		}
		m.File = !fi.IsDir()
	}
	if m.Index < 0 {
		return nil
	}
	if _, err := walkTarget(rootfs, m.Dest, m.File, true); err != nil {
		return fmt.Errorf("mounts[%d].destination: %w", m.Index, err)
	}
	return nil
}

func fileType(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSocket != 0:
		return "unix socket"
	case mode&fs.ModeNamedPipe != 0:
		return "FIFO"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// SupportedMountOptions lists the mount options the FreeBSD backend
// accepts (for the features verb): those it maps, the key=value ones it
// passes to devfs and tmpfs, and the Linux ones it ignores as meaningless
// on FreeBSD. "rbind" is accepted as a non-recursive nullfs mount: mounts
// below the source are not visible in the container.
func SupportedMountOptions() []string {
	out := []string{"ro", "nosuid", "noexec", "noatime", "bind", "rbind",
		"ruleset=", "size=", "mode=", "uid=", "gid=", "inodes="}
	for o := range ignoredOptions {
		out = append(out, o)
	}
	sort.Strings(out[12:])
	return out
}
