package jail

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrUnsupported marks config.json fields this backend cannot honour yet; the
// sandbox package wraps it into sandbox.ErrUnsupported.
var ErrUnsupported = errors.New("not supported by the FreeBSD backend")

// Values of the jailsys parameters (host, vnet, ip4, ip6, sysv*) from
// sys/jail.h.
const (
	sysDisable int32 = 0 // JAIL_SYS_DISABLE
	sysNew     int32 = 1 // JAIL_SYS_NEW
	sysInherit int32 = 2 // JAIL_SYS_INHERIT
)

// Defaults plugbox applies where the spec leaves a parameter open. They
// favour isolation: an untrusted plugin gets its own UTS name, no IP access,
// private SysV IPC, no mount visibility, no child jails and no privilege
// beyond what the allow object grants.
const (
	DefaultEnforceStatfs = 2
	DefaultSecurelevel   = 3
	DefaultChildrenMax   = 0
	// MaxChildren is JAIL_MAX (sys/jail.h), the most jails a system holds.
	MaxChildren = 999999
	// DefaultDevfsRuleset is devfs_ruleset for jails and the ruleset of
	// devfs mounts: 4 is "devfsrules_jail" in /etc/defaults/devfs.rules.
	DefaultDevfsRuleset = 4
)

// maxNameLen is MAXHOSTNAMELEN-1: the kernel's limit on name and hostname.
const maxNameLen = 255

// JailName returns the jail name for container id: the id itself, or
// "parent.id" when freebsd.jail.parent is set.
func JailName(id string, spec *specs.Spec) (string, error) {
	if err := checkName("container id", id); err != nil {
		return "", err
	}
	if j := jailSection(spec); j != nil && j.Parent != "" {
		for _, part := range strings.Split(j.Parent, ".") {
			if err := checkName("freebsd.jail.parent", part); err != nil {
				return "", err
			}
		}
		id = j.Parent + "." + id
	}
	if len(id) > maxNameLen {
		return "", fmt.Errorf("jail name %q is longer than %d bytes; shorten the container id", id, maxNameLen)
	}
	return id, nil
}

// checkName enforces what the kernel needs of one jail name component: not
// empty, no dot (dots separate parent and child), not all digits (a numeric
// name is read as a jid), no NUL.
func checkName(field, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s: must not be empty", field)
	case strings.ContainsAny(s, ".\x00"):
		return fmt.Errorf("%s: %q contains '.' or NUL; jail names use '.' to separate parent and child, choose a name without it", field, s)
	case strings.Trim(s, "0123456789") == "":
		return fmt.Errorf("%s: %q is all digits, which jail(2) reads as a jail id; add a letter", field, s)
	}
	return nil
}

// Parent returns freebsd.jail.parent: the name of the jail the container's
// jail is created in, or "" for a top-level jail.
func Parent(spec *specs.Spec) string {
	if j := jailSection(spec); j != nil {
		return j.Parent
	}
	return ""
}

// CheckParent says why jail_set(2) would refuse to create a child jail with
// children.max childMax in the existing jail parent: kern_jail_set answers
// a bare EPERM both when the parent's children.max is used up
// (pr_childcount >= pr_childmax) and when the child asks for as many
// children as the parent allows.
func CheckParent(name string, parent JailInfo, childMax int) error {
	switch {
	case parent.ChildrenMax <= 0:
		return fmt.Errorf("freebsd.jail.parent: jail %q has children.max=0, so it cannot hold jails; create it with children.max above 0 (for a plugbox container, the %s annotation)", name, "org.plugbox.freebsd.childrenMax")
	case parent.ChildrenCur >= parent.ChildrenMax:
		return fmt.Errorf("freebsd.jail.parent: jail %q already holds children.max=%d jails; delete one or raise its children.max", name, parent.ChildrenMax)
	case childMax >= parent.ChildrenMax:
		return fmt.Errorf("children.max %d must be below the children.max %d of parent jail %q; lower it", childMax, parent.ChildrenMax, name)
	}
	return nil
}

func jailSection(spec *specs.Spec) *specs.FreeBSDJail {
	if spec == nil || spec.FreeBSD == nil {
		return nil
	}
	return spec.FreeBSD.Jail
}

// Options are the jail parameters config.json has no field for; the sandbox
// package fills them from plugbox's annotations (bundle.FreeBSDOptions).
type Options struct {
	// ChildrenMax is children.max, how many child jails the jail may hold
	// (DefaultChildrenMax, none, when zero). A container that others name
	// in freebsd.jail.parent needs it above 0.
	ChildrenMax int
	// Securelevel is the jail's securelevel, -1..3 (DefaultSecurelevel
	// when nil). The kernel raises it to the parent's if that is higher.
	Securelevel *int
}

// Params maps config.json to the ordered jail_set(2) parameters of the jail
// for container id, rooted at rootfs (an absolute host path). It validates
// every freebsd.jail field and names the field and the fix on error. The
// jail is created with persist so that it outlives its processes until
// delete, as the OCI lifecycle requires.
func Params(id, rootfs string, spec *specs.Spec, opts Options) ([]Param, error) {
	name, err := JailName(id, spec)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(rootfs) {
		return nil, fmt.Errorf("root.path: jail path %q must be absolute", rootfs)
	}
	if spec != nil && spec.FreeBSD != nil && len(spec.FreeBSD.Devices) > 0 {
		return nil, fmt.Errorf("freebsd.devices: %w: extra devices need a devfs ruleset; define one in /etc/devfs.rules that unhides them and set \"ruleset=N\" in the options of the devfs entry in mounts", ErrUnsupported)
	}
	j := jailSection(spec)
	if j == nil {
		j = &specs.FreeBSDJail{}
	}
	ps := []Param{
		StringParam("name", name),
		StringParam("path", filepath.Clean(rootfs)),
		BoolParam("persist", true),
	}

	host, err := hostParams(id, spec, j)
	if err != nil {
		return nil, err
	}
	ps = append(ps, host...)

	net, err := netParams(j)
	if err != nil {
		return nil, err
	}
	ps = append(ps, net...)

	for _, s := range []struct {
		field, param string
		v            specs.FreeBSDSharing
	}{
		{"freebsd.jail.sysvmsg", "sysvmsg", j.SysVMsg},
		{"freebsd.jail.sysvsem", "sysvsem", j.SysVSem},
		{"freebsd.jail.sysvshm", "sysvshm", j.SysVShm},
	} {
		v, err := sharing(s.field, s.v, sysNew, true)
		if err != nil {
			return nil, err
		}
		ps = append(ps, IntParam(s.param, v))
	}

	enforce := DefaultEnforceStatfs
	if j.EnforceStatfs != nil {
		enforce = *j.EnforceStatfs
		if enforce < 0 || enforce > 2 {
			return nil, fmt.Errorf("freebsd.jail.enforceStatfs: %d is out of range 0..2 (2, the default, shows only the jail's own root)", enforce)
		}
	}
	level := DefaultSecurelevel
	if opts.Securelevel != nil {
		level = *opts.Securelevel
		if level < -1 || level > 3 {
			return nil, fmt.Errorf("securelevel %d is out of range -1..3 (securelevel(7)); plugbox's default is %d", level, DefaultSecurelevel)
		}
	}
	if opts.ChildrenMax < 0 || opts.ChildrenMax > MaxChildren {
		return nil, fmt.Errorf("children.max %d is out of range 0..%d", opts.ChildrenMax, MaxChildren)
	}
	ps = append(ps,
		IntParam("enforce_statfs", int32(enforce)),
		IntParam("securelevel", int32(level)),
		IntParam("children.max", int32(opts.ChildrenMax)),
		IntParam("devfs_ruleset", DefaultDevfsRuleset),
	)

	allow, err := allowParams(j.Allow)
	if err != nil {
		return nil, err
	}
	if j.Allow != nil && len(j.Allow.Mount) > 0 && enforce >= 2 {
		// jail(8): mounting inside a jail needs enforce_statfs below 2, or
		// the jailed mount(2) fails whatever allow.mount says.
		return nil, errors.New("freebsd.jail.allow.mount: mounting inside the jail works only with enforceStatfs 0 or 1; set freebsd.jail.enforceStatfs to 1, or remove allow.mount")
	}
	return append(ps, allow...), nil
}

// sharing maps a FreeBSDSharing value to its jailsys int; empty gives def.
func sharing(field string, v specs.FreeBSDSharing, def int32, disableOK bool) (int32, error) {
	switch v {
	case "":
		return def, nil
	case specs.FreeBSDShareNew:
		return sysNew, nil
	case specs.FreeBSDShareInherit:
		return sysInherit, nil
	case specs.FreeBSDShareDisable:
		if disableOK {
			return sysDisable, nil
		}
		return 0, fmt.Errorf("%s: %q is not accepted by the kernel for this parameter; use \"new\" or \"inherit\"", field, v)
	}
	valid := `"new", "inherit" or "disable"`
	if !disableOK {
		valid = `"new" or "inherit"`
	}
	return 0, fmt.Errorf("%s: %q is not valid; use %s", field, v, valid)
}

func hostParams(id string, spec *specs.Spec, j *specs.FreeBSDJail) ([]Param, error) {
	v, err := sharing("freebsd.jail.host", j.Host, sysNew, false)
	if err != nil {
		return nil, err
	}
	var hostname, domain string
	if spec != nil {
		hostname, domain = spec.Hostname, spec.Domainname
	}
	if v == sysInherit {
		if hostname != "" || domain != "" {
			return nil, errors.New("hostname/domainname: set, but freebsd.jail.host is \"inherit\" (the host's names); remove them or set freebsd.jail.host to \"new\"")
		}
		return []Param{IntParam("host", sysInherit)}, nil
	}
	if hostname == "" {
		// A new UTS name defaults to the container id rather than a copy of
		// the host's name, which an untrusted plugin has no need to learn.
		hostname = id
	}
	for field, s := range map[string]string{"hostname": hostname, "domainname": domain} {
		if len(s) > maxNameLen || strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%s: %q must be at most %d bytes with no NUL", field, s, maxNameLen)
		}
	}
	ps := []Param{IntParam("host", sysNew), StringParam("host.hostname", hostname)}
	if domain != "" {
		ps = append(ps, StringParam("host.domainname", domain))
	}
	return ps, nil
}

func netParams(j *specs.FreeBSDJail) ([]Param, error) {
	if j.Interface != "" {
		return nil, fmt.Errorf("freebsd.jail.interface: %w: adding address aliases to %q is not implemented; add the aliases on the host (ifconfig %s alias ...) and list them in freebsd.jail.ip4Addr/ip6Addr", ErrUnsupported, j.Interface, j.Interface)
	}
	if len(j.VnetInterfaces) > 0 {
		return nil, fmt.Errorf("freebsd.jail.vnetInterfaces: %w: moving interfaces into the vnet is not implemented; remove the field and move them with ifconfig IF vnet JAIL after create", ErrUnsupported)
	}
	vnet, err := sharing("freebsd.jail.vnet", j.Vnet, sysInherit, false)
	if err != nil {
		return nil, err
	}
	if vnet == sysNew {
		// jail_set(2) refuses ip4/ip6 on a vnet jail ("vnet jails cannot
		// have IP address restrictions").
		if j.Ip4 != "" || j.Ip6 != "" || len(j.Ip4Addr) > 0 || len(j.Ip6Addr) > 0 {
			return nil, errors.New("freebsd.jail.ip4/ip6/ip4Addr/ip6Addr: must be unset when freebsd.jail.vnet is \"new\" (a vnet jail configures its own addresses); remove them")
		}
		return []Param{IntParam("vnet", sysNew)}, nil
	}
	// "inherit" is the kernel's default and is not sent: kern_jail_set
	// counts a present vnet parameter as PR_VNET whatever its value, and
	// then refuses the ip4/ip6 parameters sent below ("vnet jails cannot
	// have IP address restrictions").
	var ps []Param
	for _, fam := range []struct {
		name  string
		share specs.FreeBSDSharing
		addrs []string
		is4   bool
	}{
		{"ip4", j.Ip4, j.Ip4Addr, true},
		{"ip6", j.Ip6, j.Ip6Addr, false},
	} {
		field := "freebsd.jail." + fam.name
		// No addresses and no setting: no IP access at all.
		v, err := sharing(field, fam.share, sysDisable, true)
		if err != nil {
			return nil, err
		}
		if len(fam.addrs) == 0 {
			ps = append(ps, IntParam(fam.name, v))
			continue
		}
		if fam.share != "" && v != sysNew {
			return nil, fmt.Errorf("%s: %q conflicts with %sAddr; set it to \"new\" or leave it unset to restrict the jail to those addresses", field, fam.share, field)
		}
		raw, err := packAddrs(field+"Addr", fam.addrs, fam.is4)
		if err != nil {
			return nil, err
		}
		ps = append(ps, IntParam(fam.name, sysNew), RawParam(fam.name+".addr", raw))
	}
	return ps, nil
}

// packAddrs packs addresses as an array of struct in_addr or in6_addr
// (network byte order), the value format of ip4.addr and ip6.addr.
func packAddrs(field string, addrs []string, is4 bool) ([]byte, error) {
	var out []byte
	seen := map[netip.Addr]bool{}
	for i, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || (is4 && !a.Is4()) || (!is4 && (!a.Is6() || a.Is4In6())) {
			kind := "IPv6"
			if is4 {
				kind = "IPv4"
			}
			return nil, fmt.Errorf("%s[%d]: %q is not a numeric %s address", field, i, s, kind)
		}
		if a.IsUnspecified() || (is4 && a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
			return nil, fmt.Errorf("%s[%d]: %s cannot be a jail address (the kernel refuses the unspecified and broadcast addresses)", field, i, s)
		}
		if seen[a] {
			return nil, fmt.Errorf("%s[%d]: %s is listed twice; remove the duplicate", field, i, s)
		}
		seen[a] = true
		out = append(out, a.AsSlice()...)
	}
	return out, nil
}

// allowFlags lists, in order, the allow.* booleans plugbox always sets
// explicitly, so none falls back to the kernel's permissive defaults
// (set_hostname, reserved_ports, unprivileged_proc_debug and suser are on
// for a new jail unless turned off).
var allowFlags = []struct {
	param string
	get   func(*specs.FreeBSDJailAllow) bool
}{
	{"allow.set_hostname", func(a *specs.FreeBSDJailAllow) bool { return a.SetHostname }},
	{"allow.raw_sockets", func(a *specs.FreeBSDJailAllow) bool { return a.RawSockets }},
	{"allow.chflags", func(a *specs.FreeBSDJailAllow) bool { return a.Chflags }},
	{"allow.mount", func(a *specs.FreeBSDJailAllow) bool { return len(a.Mount) > 0 }},
	{"allow.quotas", func(a *specs.FreeBSDJailAllow) bool { return a.Quotas }},
	{"allow.socket_af", func(a *specs.FreeBSDJailAllow) bool { return a.SocketAf }},
	{"allow.mlock", func(a *specs.FreeBSDJailAllow) bool { return a.Mlock }},
	{"allow.reserved_ports", func(a *specs.FreeBSDJailAllow) bool { return a.ReservedPorts }},
	{"allow.suser", func(a *specs.FreeBSDJailAllow) bool { return a.Suser }},
	{"allow.read_msgbuf", func(*specs.FreeBSDJailAllow) bool { return false }},
	{"allow.unprivileged_proc_debug", func(*specs.FreeBSDJailAllow) bool { return false }},
}

func allowParams(a *specs.FreeBSDJailAllow) ([]Param, error) {
	if a == nil {
		a = &specs.FreeBSDJailAllow{}
	}
	ps := make([]Param, 0, len(allowFlags)+len(a.Mount))
	for _, f := range allowFlags {
		ps = append(ps, BoolParam(f.param, f.get(a)))
	}
	seen := map[string]bool{}
	for i, fs := range a.Mount {
		if fs == "" || strings.Trim(fs, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return nil, fmt.Errorf("freebsd.jail.allow.mount[%d]: %q is not a file system type name (lower-case letters and digits, e.g. \"tmpfs\")", i, fs)
		}
		if seen[fs] {
			return nil, fmt.Errorf("freebsd.jail.allow.mount[%d]: %q is listed twice; remove the duplicate", i, fs)
		}
		seen[fs] = true
		ps = append(ps, BoolParam("allow.mount."+fs, true))
	}
	return ps, nil
}
