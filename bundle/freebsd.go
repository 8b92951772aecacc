package bundle

import (
	"debug/elf"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotation keys of the FreeBSD backend beyond AnnotationCapsicum;
// ParseFreeBSDOptions decodes them.
const (
	// AnnotationRctl lists, comma-separated, rctl(8) rules
	// RESOURCE:ACTION=AMOUNT applied to the container's jail, e.g.
	// "memoryuse:deny=256m,maxproc:deny=64".
	AnnotationRctl = "org.plugbox.freebsd.rctl"
	// AnnotationChildrenMax is the jail's children.max (default 0): set
	// it above 0 for a container other containers name as
	// freebsd.jail.parent.
	AnnotationChildrenMax = "org.plugbox.freebsd.childrenMax"
	// AnnotationSecurelevel is the jail's securelevel, -1..3 (default 3).
	AnnotationSecurelevel = "org.plugbox.freebsd.securelevel"
	// AnnotationTrapCap, "true", makes a capability violation deliver
	// SIGTRAP to the plugin (procctl PROC_TRAPCAP_CTL), which kills it:
	// the manifest's onViolation "kill" on FreeBSD.
	AnnotationTrapCap = "org.plugbox.freebsd.trapcap"
)

// FreeBSDOptions are plugbox's FreeBSD annotations of a config.json,
// decoded once.
type FreeBSDOptions struct {
	Capsicum    bool
	Rctl        string
	ChildrenMax int
	Securelevel *int
	TrapCap     bool
}

// ParseFreeBSDOptions decodes the FreeBSD annotations; a value that does
// not parse is an error naming the annotation, never a silent default.
func ParseFreeBSDOptions(annotations map[string]string) (FreeBSDOptions, error) {
	var o FreeBSDOptions
	boolAnn := func(key string) (bool, error) {
		switch v, ok := annotations[key]; {
		case !ok || v == "false":
			return false, nil
		case v == "true":
			return true, nil
		default:
			return false, fmt.Errorf("config.json: annotations[%q] is %q; set it to \"true\" or \"false\"", key, v)
		}
	}
	var err error
	if o.Capsicum, err = boolAnn(AnnotationCapsicum); err != nil {
		return o, err
	}
	if o.TrapCap, err = boolAnn(AnnotationTrapCap); err != nil {
		return o, err
	}
	if o.TrapCap && !o.Capsicum {
		return o, fmt.Errorf("config.json: annotations[%q] needs annotations[%q] = \"true\": only capability mode has violations to trap", AnnotationTrapCap, AnnotationCapsicum)
	}
	o.Rctl = annotations[AnnotationRctl]
	if v, ok := annotations[AnnotationChildrenMax]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, fmt.Errorf("config.json: annotations[%q] is %q; give a number of child jails, 0 or more", AnnotationChildrenMax, v)
		}
		o.ChildrenMax = n
	}
	if v, ok := annotations[AnnotationSecurelevel]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, fmt.Errorf("config.json: annotations[%q] is %q; give a securelevel -1..3", AnnotationSecurelevel, v)
		}
		o.Securelevel = &n
	}
	return o, nil
}

// FreeBSDStarterSpec is the config.json plugbox spec writes on FreeBSD: sh
// from rootfs/ in a jail with the backend's defaults and a devfs /dev. It
// has no terminal: the FreeBSD backend has no pty support.
func FreeBSDStarterSpec() *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "plugbox",
		Process: &specs.Process{
			Args: []string{"sh"},
			Env:  []string{"PATH=/sbin:/bin:/usr/sbin:/usr/bin", "TERM=xterm"},
			Cwd:  "/",
		},
		Mounts: []specs.Mount{{Destination: "/dev", Type: "devfs", Source: "devfs", Options: []string{"ruleset=4"}}},
	}
}

// FreeBSDSpec derives a hardened config.json for the FreeBSD backend from
// m, the counterpart of Spec:
//
//   - a jail of its own: its own hostname, no IP access (network "none")
//     or the host's addresses (network "host"), private SysV IPC,
//     enforce_statfs 2, every allow.* off, securelevel 3;
//   - a read-only root, devfs on /dev with ruleset 4 (devfsrules_jail), a
//     size-limited nosuid, noexec tmpfs /tmp, read paths nullfs
//     ro,nosuid and write paths nullfs nosuid,noexec;
//   - the manifest's uid/gid, noNewPrivileges (PROC_NO_NEW_PRIVS_CTL),
//     RLIMIT_NOFILE = openFiles and RLIMIT_CORE = 0;
//   - limits as rctl rules on the jail: memoryuse, maxproc, pcpu (CPUs as
//     percent) and openfiles (openFiles times pids, since rctl counts all
//     descriptors of the jail together);
//   - Capsicum capability mode, unless the manifest declares read or write
//     paths or network access: capability mode forbids opening paths and
//     connecting by address, so such a plugin is confined by the jail, its
//     mounts and the limits alone. In capability mode a violation is
//     recorded (annotation org.plugbox.monitor "violations", read with
//     plugbox violations), or kills the plugin for onViolation "kill".
//
// Network "loopback" is refused: a vnet jail's lo0 would need configuring.
func FreeBSDSpec(m *Manifest, opts SpecOptions) (*specs.Spec, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest %q: %w", m.Name, err)
	}
	e := m.effective()
	if opts.Rootless {
		return nil, errors.New("the FreeBSD backend runs as root (jail_set(2) needs it): author the bundle as root")
	}
	if e.OnViolation != ViolationErrno && e.OnViolation != ViolationKill || len(e.SyscallActions) > 0 {
		return nil, fmt.Errorf(`manifest %q: onViolation %q and syscallActions are Linux seccomp actions: on FreeBSD, Capsicum refuses a call (ENOTCAPABLE, logged: "errno") or traps it ("kill"); use one of those and no syscallActions`, e.Name, e.OnViolation)
	}
	var ip specs.FreeBSDSharing
	switch e.Network {
	case NetworkNone:
		ip = specs.FreeBSDShareDisable
	case NetworkHost:
		ip = specs.FreeBSDShareInherit
	default:
		return nil, fmt.Errorf("manifest %q: network %q is not supported on FreeBSD yet (a vnet jail's lo0 would need configuring); use %q or %q", e.Name, e.Network, NetworkNone, NetworkHost)
	}
	rootPath := opts.Rootfs
	if rootPath == "" {
		rootPath = "rootfs"
	}
	uid, gid := uint32(DefaultUID), uint32(DefaultGID)
	if e.UID != nil {
		uid = *e.UID
	}
	if e.GID != nil {
		gid = *e.GID
	}
	enforce := 2
	spec := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootPath, Readonly: true},
		Hostname: "plugbox",
		Process: &specs.Process{
			User: specs.User{UID: uid, GID: gid},
			Args: append([]string(nil), e.Command...),
			Env:  environment(&e),
			Cwd:  e.Cwd,
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: e.Limits.OpenFiles, Soft: e.Limits.OpenFiles},
				{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
			},
			NoNewPrivileges: true,
		},
		Mounts: freebsdMounts(&e),
		FreeBSD: &specs.FreeBSD{Jail: &specs.FreeBSDJail{
			Host: specs.FreeBSDShareNew, Ip4: ip, Ip6: ip,
			SysVMsg: specs.FreeBSDShareNew, SysVSem: specs.FreeBSDShareNew, SysVShm: specs.FreeBSDShareNew,
			EnforceStatfs: &enforce,
			Allow:         &specs.FreeBSDJailAllow{},
		}},
		Annotations: map[string]string{
			AnnotationAuthored: e.Name,
			AnnotationTimeout:  e.Limits.Timeout,
			AnnotationRctl:     freebsdRctl(&e),
		},
	}
	if len(e.FDs) > 0 {
		spec.Annotations[AnnotationFDNames] = strings.Join(e.FDs, ":")
	}
	if err := addBroker(&e, spec.Annotations); err != nil {
		return nil, err
	}
	if len(e.Read) == 0 && len(e.Write) == 0 && e.Network == NetworkNone {
		spec.Annotations[AnnotationCapsicum] = "true"
		if e.OnViolation == ViolationKill {
			spec.Annotations[AnnotationTrapCap] = "true"
		} else {
			spec.Annotations[AnnotationMonitor] = "violations"
		}
	}
	return spec, nil
}

// freebsdRctl renders the manifest's limits as the AnnotationRctl value.
func freebsdRctl(e *Manifest) string {
	pcpu := int64(math.Ceil(e.Limits.CPUs * 100))
	rules := []string{
		"memoryuse:deny=" + strconv.FormatInt(int64(e.Limits.Memory), 10),
		"maxproc:deny=" + strconv.FormatInt(e.Limits.Pids, 10),
		"pcpu:deny=" + strconv.FormatInt(pcpu, 10),
		"openfiles:deny=" + strconv.FormatUint(e.Limits.OpenFiles*uint64(e.Limits.Pids), 10),
	}
	return strings.Join(rules, ",")
}

// freebsdMounts returns /dev, /tmp and the manifest's nullfs binds,
// parents before children.
func freebsdMounts(e *Manifest) []specs.Mount {
	ms := []specs.Mount{
		{Destination: "/dev", Type: "devfs", Source: "devfs", Options: []string{"ruleset=4"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "mode=1777", "size=" + strconv.FormatInt(int64(e.Limits.Tmp), 10)}},
	}
	type bind struct {
		path string
		rw   bool
	}
	var binds []bind
	for _, p := range e.Read {
		binds = append(binds, bind{p, false})
	}
	for _, p := range e.Write {
		binds = append(binds, bind{p, true})
	}
	sort.SliceStable(binds, func(i, j int) bool { return binds[i].path < binds[j].path })
	for _, b := range binds {
		opts := []string{"ro", "nosuid"}
		if b.rw {
			opts = []string{"nosuid", "noexec"}
		}
		ms = append(ms, specs.Mount{Destination: b.path, Type: "nullfs", Source: b.path, Options: opts})
	}
	return ms
}

// elfOSABIFreeBSD is ELFOSABI_FREEBSD, which FreeBSD's toolchain (and Go
// with GOOS=freebsd) brands executables with.
const elfOSABIFreeBSD = elf.ELFOSABI_FREEBSD

// InitFreeBSD writes a complete FreeBSD bundle in dir, as Init does for
// Linux: rootfs/ assembled around exe (installed at m.Command[0]) and
// config.json from FreeBSDSpec. exe must be a FreeBSD executable. It
// refuses to replace an existing config.json (the error wraps
// fs.ErrExist) and checks that before touching the rootfs.
func InitFreeBSD(dir, exe string, m *Manifest, opts InitOptions) error {
	if m == nil {
		m = DefaultManifest()
		base := filepath.Base(exe)
		m.Command = []string{"/bin/" + base}
		if validName(base) == nil {
			m.Name = base
		}
	}
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("bundle init: --exec %s: %w", exe, err)
	}
	abi := f.OSABI
	f.Close()
	if abi != elfOSABIFreeBSD {
		return fmt.Errorf("bundle init: --exec %s is not a FreeBSD executable (ELF OS/ABI %s); build it for FreeBSD, or use --os linux", exe, abi)
	}
	return initBundle(dir, exe, m, opts, FreeBSDSpec, runtime.GOOS == "freebsd")
}
