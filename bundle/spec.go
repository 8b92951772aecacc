package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/seccompgen"
)

// idMapSize is the number of ids a root caller maps (container 0..65535).
const idMapSize = 65536

// DefaultPath is the PATH a plugin starts with unless its manifest sets one.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// SpecOptions describes the caller of Spec: who will start the sandbox.
//
// The user namespace is always created; what it maps depends on the caller:
//
//   - Root (Rootless false): config.json carries AnnotationIDMap "auto"
//     and no id maps; at create the runtime gives container ids 0..65535
//     a range of host ids of their own, from plugbox's reserved range, so
//     no two sandboxes and no login user share a host id. The plugin runs
//     as the manifest's uid/gid (default 1000). Write paths are bound
//     idmapped ("ridmap"): inside, the plugin owns what the manifest's uid
//     owns on disk, and its files are stored as that uid, so the operator
//     makes write paths writable by the manifest's uid. With IDMapBase set,
//     container ids map to IDMapBase.. instead, the same for every sandbox.
//   - Rootless: an unprivileged caller may map only its own ids, and
//     libcontainer needs container root mapped for its setup, so container
//     0 maps to HostUID/HostGID and the plugin runs as 0 inside its own user
//     namespace. With every capability set empty and no_new_privs it holds
//     no privilege there: it is the caller, owning only the caller's files.
type SpecOptions struct {
	// Rootless is set when the caller is not root (euid != 0).
	Rootless bool
	// HostUID and HostGID are the caller's ids; used when Rootless.
	HostUID, HostGID uint32
	// IDMapBase, when not zero, is the first host id of a fixed range
	// mapped for a root caller instead of a range allocated per sandbox.
	IDMapBase uint32
	// Rootfs is root.path (default "rootfs", relative to the bundle).
	Rootfs string
}

// maskedPaths hides kernel files that leak host information or offer
// host-wide controls (runc's list plus the powercap energy counters).
var maskedPaths = []string{
	"/proc/acpi",
	"/proc/asound",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/sys/devices/virtual/powercap",
	"/sys/firmware",
}

// readonlyPaths are the /proc files and directories runc makes read-only.
var readonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// Spec derives a hardened config.json from m for the caller in opts:
//
//   - new user, mount, PID, IPC, UTS and cgroup namespaces, and a new
//     network namespace unless network is "host" (libcontainer brings up lo
//     in it; "none" additionally has seccomp refuse inet sockets);
//   - a read-only root, /proc, a small /dev (libcontainer adds null, zero,
//     full, random, urandom, tty), /dev/pts, /dev/shm, /dev/mqueue, a
//     size-limited noexec /tmp, no /sys; runc's masked and read-only paths;
//   - the manifest's read paths bound ro,nosuid,nodev and write paths bound
//     rw,nosuid,nodev,noexec, recursively (rro, rnosuid, ...), so a plugin
//     can execute only what was assembled into its rootfs or bound read-only;
//   - every capability set empty, no_new_privs, RLIMIT_NOFILE = openFiles,
//     RLIMIT_CORE = 0 and RLIMIT_FSIZE = fileSize when set (see rlimits).
//     RLIMIT_NPROC is deliberately not set: it counts every process of the
//     real uid host-wide (for a rootless caller, all of the caller's
//     processes), so the pids cgroup limits processes instead;
//   - cgroup memory, pids and CPU bandwidth limits, and devices denied
//     except the default set;
//   - seccomp from seccompgen, and the Landlock, timeout, fd-name, binds
//     (the read and write paths as resolved now, which create checks
//     again: VerifyBinds) and authored annotations (see landlockPolicy).
func Spec(m *Manifest, opts SpecOptions) (*specs.Spec, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest %q: %w", m.Name, err)
	}
	e := m.effective()
	uidMap, gidMap, uid, gid, err := idMappings(&e, opts)
	if err != nil {
		return nil, err
	}
	autoIDMap := !opts.Rootless && opts.IDMapBase == 0
	seccomp, err := seccompgen.Generate(e.seccompOptions())
	if err != nil {
		return nil, fmt.Errorf("manifest %q: syscalls: %w", e.Name, err)
	}
	binds, err := resolveBinds(&e)
	if err != nil {
		return nil, fmt.Errorf("manifest %q: %w", e.Name, err)
	}
	rootPath := opts.Rootfs
	if rootPath == "" {
		rootPath = "rootfs"
	}
	memory := int64(e.Limits.Memory)
	pids := e.Limits.Pids
	period := uint64(100000)
	quota := int64(e.Limits.CPUs * float64(period))

	spec := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootPath, Readonly: true},
		Hostname: "plugbox",
		Process: &specs.Process{
			User: specs.User{UID: uid, GID: gid},
			Args: append([]string(nil), e.Command...),
			Env:  environment(&e),
			Cwd:  e.Cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:    []string{},
				Effective:   []string{},
				Inheritable: []string{},
				Permitted:   []string{},
				Ambient:     []string{},
			},
			Rlimits:         rlimits(&e),
			NoNewPrivileges: true,
		},
		Mounts: mounts(&e, binds, autoIDMap),
		Linux: &specs.Linux{
			UIDMappings: uidMap,
			GIDMappings: gidMap,
			Namespaces:  namespaces(e.Network),
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: &memory},
				Pids:    &specs.LinuxPids{Limit: &pids},
				CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
			},
			Seccomp:       seccomp,
			MaskedPaths:   append([]string(nil), maskedPaths...),
			ReadonlyPaths: append([]string(nil), readonlyPaths...),
		},
		Annotations: map[string]string{
			AnnotationAuthored: e.Name,
			AnnotationTimeout:  e.Limits.Timeout,
		},
	}
	if autoIDMap {
		spec.Annotations[AnnotationIDMap] = IDMapAuto
	}
	if e.OnViolation != ViolationKill {
		// Denied calls go to plugbox's listener, answered EPERM and logged.
		spec.Annotations[AnnotationMonitor] = "violations"
	}
	if len(e.FDs) > 0 {
		spec.Annotations[AnnotationFDNames] = strings.Join(e.FDs, ":")
	}
	if len(binds) > 0 {
		raw, err := json.Marshal(binds)
		if err != nil {
			return nil, fmt.Errorf("encode authored binds: %w", err)
		}
		spec.Annotations[AnnotationBinds] = string(raw)
	}
	if pol := landlockPolicy(&e); pol != nil {
		raw, err := json.Marshal(pol)
		if err != nil {
			return nil, fmt.Errorf("encode Landlock policy: %w", err)
		}
		spec.Annotations[AnnotationLandlock] = string(raw)
	}
	return spec, nil
}

// idMappings returns the user namespace maps and the plugin's ids inside,
// following the rules documented on SpecOptions.
func idMappings(e *Manifest, opts SpecOptions) (uidMap, gidMap []specs.LinuxIDMapping, uid, gid uint32, err error) {
	if opts.Rootless {
		if opts.HostUID == 0 || opts.HostGID == 0 {
			return nil, nil, 0, 0, errors.New("rootless spec with host uid or gid 0 would map the plugin to host root: run as an unprivileged user, or leave Rootless unset when running as root")
		}
		uidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: opts.HostUID, Size: 1}}
		gidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: opts.HostGID, Size: 1}}
		return uidMap, gidMap, 0, 0, nil
	}
	base := opts.IDMapBase
	if base == 0 {
		return nil, nil, *e.UID, *e.GID, nil // allocated at create (AnnotationIDMap)
	}
	if uint64(base)+idMapSize > 1<<32-1 {
		return nil, nil, 0, 0, fmt.Errorf("id map base %d leaves no room for %d ids below 2^32-1: pick a smaller base", base, idMapSize)
	}
	uidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: idMapSize}}
	gidMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: idMapSize}}
	return uidMap, gidMap, *e.UID, *e.GID, nil
}

// namespaces lists every namespace type as new, except the network one
// for a plugin that asked for the host network.
func namespaces(network string) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.UserNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.CgroupNamespace},
	}
	if network != NetworkHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

// environment builds process.env: defaults, the sd_listen_fds variables,
// then the manifest's own (which may override PATH and HOME).
func environment(e *Manifest) []string {
	env := []string{"PATH=" + DefaultPath, "HOME=/tmp"}
	if len(e.FDs) > 0 {
		// The plugin is pid 1 of its PID namespace, so LISTEN_PID is 1.
		env = append(env,
			"LISTEN_FDS="+strconv.Itoa(len(e.FDs)),
			"LISTEN_FDNAMES="+strings.Join(e.FDs, ":"),
			"LISTEN_PID=1")
	}
	for _, kv := range e.Env {
		k, _, _ := strings.Cut(kv, "=")
		env = slicesDeleteKey(env, k)
		env = append(env, kv)
	}
	return env
}

func slicesDeleteKey(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// rlimits returns RLIMIT_NOFILE, RLIMIT_CORE 0 and, when the manifest sets
// limits.fileSize, RLIMIT_FSIZE: the largest file the plugin may write or
// extend (a write beyond it raises SIGXFSZ, or fails with EFBIG when the
// signal is ignored). It bounds each file, not the total: the disk a plugin
// fills in its write paths is bounded only by the host filesystem (a
// dedicated, size-limited filesystem or a quota per mapped uid); /tmp is
// bounded by limits.tmp.
func rlimits(e *Manifest) []specs.POSIXRlimit {
	rl := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Hard: e.Limits.OpenFiles, Soft: e.Limits.OpenFiles},
		{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
	}
	if n := uint64(e.Limits.FileSize); n > 0 {
		rl = append(rl, specs.POSIXRlimit{Type: "RLIMIT_FSIZE", Hard: n, Soft: n})
	}
	return rl
}

// mounts returns the system mounts followed by the manifest's binds (each
// from its resolved host path, see AuthoredBind), parents before children
// so nested binds stack correctly. idmapWrite binds the write paths
// idmapped with the sandbox's own id maps.
func mounts(e *Manifest, authored []AuthoredBind, idmapWrite bool) []specs.Mount {
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}},
		// No gid=5: a rootless user namespace maps only one gid.
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + strconv.FormatInt(int64(e.Limits.Tmp), 10)}},
	}
	binds := append([]AuthoredBind(nil), authored...)
	sort.SliceStable(binds, func(i, j int) bool { return binds[i].Path < binds[j].Path })
	for _, b := range binds {
		opts := []string{"rbind", "ro", "nosuid", "nodev", "rro", "rnosuid", "rnodev"}
		if b.Write {
			opts = []string{"rbind", "rw", "nosuid", "nodev", "noexec", "rnosuid", "rnodev", "rnoexec"}
			if idmapWrite {
				opts = append(opts, "ridmap")
			}
		}
		ms = append(ms, specs.Mount{Destination: b.Path, Type: "bind", Source: b.Source, Options: opts})
	}
	return ms
}

// landlockPolicy returns the Landlock policy for e, or nil for "off".
//
// Landlock is applied inside the container right before execve, so paths
// are as seen there. The mount namespace already decides what the plugin
// can see (a minimal rootfs, its own /proc, the declared read paths), so
// reading is allowed below "/": listing the rootfs piecemeal would only
// restate the mounts and break programs that read /proc or /etc. The
// policy's value is on writes: the plugin may write, create and remove
// only in /tmp, /dev/shm, its declared write paths and the /dev/null,
// /dev/zero and /dev/full files, and may nowhere create devices, fifos or
// sockets, or truncate, outside those. This still holds if a mount is
// later made writable by mistake. Entries may be files (the /dev ones or a
// file write path): the enforcer must grant file-only rights to them.
func landlockPolicy(e *Manifest) *LandlockPolicy {
	if e.Landlock == LandlockOff {
		return nil
	}
	rw := []string{"/tmp", "/dev/shm", "/dev/null", "/dev/zero", "/dev/full"}
	rw = append(rw, e.Write...)
	return &LandlockPolicy{
		ReadOnly:   []string{"/"},
		ReadWrite:  rw,
		BestEffort: e.Landlock == LandlockBestEffort,
	}
}
