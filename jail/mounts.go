package jail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountFlags are the generic nmount(2) flags a mount entry maps to.
type MountFlags struct {
	ReadOnly bool // MNT_RDONLY
	NoSuid   bool // MNT_NOSUID
	NoExec   bool // MNT_NOEXEC
	NoAtime  bool // MNT_NOATIME
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
	File    bool
	Flags   MountFlags
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
			if err != nil || n < 0 || n > 65535 {
				return Mount{}, fmt.Errorf("%s: %q: the devfs ruleset must be a number 0..65535", ofield, o)
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
	rel, err := filepath.Rel(rootfs, filepath.Join(rootfs, dest))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is outside the root %s", dest, rootfs)
	}
	if rel == "." {
		return nil
	}
	cur := rootfs
	parts := strings.Split(rel, string(filepath.Separator))
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		last := i == len(parts)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: %s is a symbolic link; mount destinations may not pass through links in the rootfs, use the real path", dest, cur)
		case fi.IsDir() && last && file:
			return fmt.Errorf("%s: the source is a file but %s is a directory", dest, cur)
		case !fi.IsDir() && !(last && file):
			return fmt.Errorf("%s: %s is not a directory", dest, cur)
		}
	}
	return nil
}

// Prepare checks m's mount point and creates it (directories 0755, an
// empty 0644 file for a file source) when missing.
func (m *Mount) Prepare(rootfs string) error {
	if m.FSType == "nullfs" {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mounts[%d].source: %w", m.Index, err)
		}
		m.File = !fi.IsDir()
	}
	if m.Index < 0 {
		return nil
	}
	if err := ResolveInRoot(rootfs, m.Dest, m.File); err != nil {
		return fmt.Errorf("mounts[%d].destination: %w", m.Index, err)
	}
	if !m.File {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return fmt.Errorf("mounts[%d].destination: %w", m.Index, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
		return fmt.Errorf("mounts[%d].destination: %w", m.Index, err)
	}
	f, err := os.OpenFile(m.Target, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return fmt.Errorf("mounts[%d].destination: %w", m.Index, err)
	}
	return f.Close()
}
