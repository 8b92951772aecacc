package seccompgen

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Values of Options.Network.
const (
	NetworkNone     = "none"     // socket(2) only for AF_UNIX
	NetworkLoopback = "loopback" // AF_UNIX, AF_INET, AF_INET6
	NetworkHost     = "host"     // loopback's families plus AF_NETLINK
)

// Values of Options.OnViolation.
const (
	ViolationErrno = "errno" // denied calls fail with EPERM
	ViolationKill  = "kill"  // denied calls kill the whole plugin (SCMP_ACT_KILL_PROCESS)
)

// Options for Generate.
type Options struct {
	// Groups are permission group names (see Groups); "base" is always
	// included. Unknown names are errors.
	Groups []string
	// Extra names syscalls allowed with any arguments beyond the groups.
	// Unknown names, DeniedAlways names and argument-filtered calls
	// (socket, clone, ioctl, open, openat, ...) are errors.
	Extra []string
	// Network is NetworkNone (default), NetworkLoopback or NetworkHost. It
	// sets the socket families net-client and net-server allow; loopback and
	// host need one of those groups.
	Network string
	// OnViolation is ViolationErrno (default: EPERM) or ViolationKill.
	OnViolation string
	// SpecAllow sets SECCOMP_FILTER_FLAG_SPEC_ALLOW. Loading any seccomp
	// filter otherwise turns on the Speculative Store Bypass mitigation for
	// the plugin, which has cost 15-85% on some workloads (runc#2430); the
	// flag trades that protection for speed, so it is off unless asked for.
	SpecAllow bool
	// Arch is the GOARCH the profile is for: "amd64" or "arm64". Empty means
	// the architecture this program runs on.
	Arch string
	// BrokerTCP says plugbox's broker connects the plugin to tcp
	// destinations: socket(2) is allowed for AF_INET and AF_INET6 whatever
	// Network says, so the plugin can make the socket the broker connects.
	// Its network namespace is unchanged (empty for NetworkNone): brokered
	// connections stay the only way out. It needs a socket group.
	BrokerTCP bool
	// BrokerSocket says the plugin holds plugbox's broker socket (the
	// explicit protocol): recvmsg(2) is allowed, which receives the
	// descriptors the broker sends (requests are write(2)s).
	BrokerSocket bool
}

// archInfo ties a GOARCH to its seccomp architecture and table column.
type archInfo struct {
	goarch string
	scmp   specs.Arch
	col    int
}

var archs = []archInfo{
	{"amd64", specs.ArchX86_64, 0},
	{"arm64", specs.ArchAARCH64, 1},
}

func archFor(goarch string) (archInfo, error) {
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	for _, a := range archs {
		if a.goarch == goarch {
			return a, nil
		}
	}
	return archInfo{}, fmt.Errorf("architecture %q: seccomp profiles are generated for amd64 and arm64 only", goarch)
}

func archForScmp(s *specs.LinuxSeccomp) (archInfo, error) {
	if s == nil || len(s.Architectures) == 0 {
		return archFor("")
	}
	for _, a := range archs {
		if a.scmp == s.Architectures[0] {
			return a, nil
		}
	}
	return archInfo{}, fmt.Errorf("profile architecture %s: plugbox knows syscall numbers for %s and %s only", s.Architectures[0], specs.ArchX86_64, specs.ArchAARCH64)
}

// exists reports whether the syscall has a number on this architecture.
func (a archInfo) exists(name string) bool {
	nr, ok := syscallTable[name]
	return ok && nr[a.col] >= 0
}

func networkFamilies(network string) ([]uint64, error) {
	switch network {
	case "", NetworkNone:
		return []uint64{afUnix}, nil
	case NetworkLoopback:
		return []uint64{afUnix, afInet, afInet6}, nil
	case NetworkHost:
		return []uint64{afUnix, afInet, afInet6, afNetlink}, nil
	}
	return nil, fmt.Errorf("network %q: use %q, %q or %q", network, NetworkNone, NetworkLoopback, NetworkHost)
}

// violationAction returns the action (and errno) for denied calls.
func violationAction(v string) (specs.LinuxSeccompAction, *uint, error) {
	switch v {
	case "", ViolationErrno:
		return specs.ActErrno, uintPtr(errnoEPERM), nil
	case ViolationKill:
		return specs.ActKillProcess, nil, nil
	}
	return "", nil, fmt.Errorf("onViolation %q: use %q or %q", v, ViolationErrno, ViolationKill)
}

func uintPtr(v uint) *uint { return &v }

// grants is the merged policy of several groups: per syscall, an
// unconditional allow beats conditional allows, which beat ENOSYS.
type grants struct {
	allow  map[string]bool
	conds  map[string][]condRule
	enosys map[string]bool
	socket bool
}

func newGrants() *grants {
	return &grants{allow: map[string]bool{}, conds: map[string][]condRule{}, enosys: map[string]bool{}}
}

func (g *grants) add(d *groupDef) {
	for _, n := range d.allow {
		g.allow[n] = true
	}
	for _, c := range d.conds {
		if !slices.ContainsFunc(g.conds[c.name], func(o condRule) bool { return slices.Equal(o.args, c.args) }) {
			g.conds[c.name] = append(g.conds[c.name], c)
		}
	}
	for _, n := range d.enosys {
		g.enosys[n] = true
	}
	g.socket = g.socket || d.socket
}

// resolveGroups merges base and the named groups.
func resolveGroups(names []string) (*grants, error) {
	g := newGrants()
	g.add(groupIndex["base"])
	for i, n := range names {
		d, ok := groupIndex[n]
		if !ok {
			return nil, fmt.Errorf("groups[%d]: unknown syscall group %q: use one of %s", i, n, strings.Join(GroupNames(), ", "))
		}
		g.add(d)
	}
	return g, nil
}

// checkExtra validates one Options.Extra name.
func checkExtra(name string) error {
	if !KnownSyscall(name) {
		return fmt.Errorf("%q is not a syscall plugbox knows: use the kernel's name, e.g. \"getrandom\"", name)
	}
	if slices.Contains(deniedAlways, name) {
		return fmt.Errorf("%q is never granted (see seccompgen.DeniedAlways)", name)
	}
	if why, ok := argFiltered[name]; ok {
		return fmt.Errorf("%q is allowed only through argument-checking groups: %s", name, why)
	}
	return nil
}

// Generate builds a default-deny profile from o. See the package comment
// for its shape. Every name is checked: unknown groups, unknown or
// forbidden Extra syscalls and unknown Network or OnViolation values are
// errors, never silently dropped.
func Generate(o Options) (*specs.LinuxSeccomp, error) {
	arch, err := archFor(o.Arch)
	if err != nil {
		return nil, err
	}
	families, err := networkFamilies(o.Network)
	if err != nil {
		return nil, err
	}
	denyAct, denyErrno, err := violationAction(o.OnViolation)
	if err != nil {
		return nil, err
	}
	g, err := resolveGroups(o.Groups)
	if err != nil {
		return nil, err
	}
	if len(families) > 1 && !g.socket {
		return nil, fmt.Errorf("network %q allows inet sockets but no group grants socket: add group \"net-client\" or \"net-server\"", o.Network)
	}
	if o.BrokerTCP {
		if !g.socket {
			return nil, errors.New("brokered tcp connections need sockets and connect(2): add group \"net-client\"")
		}
		for _, f := range []uint64{afInet, afInet6} {
			if !slices.Contains(families, f) {
				families = append(families, f)
			}
		}
	}
	if o.BrokerSocket {
		g.allow["recvmsg"] = true
	}
	for i, n := range o.Extra {
		if err := checkExtra(n); err != nil {
			return nil, fmt.Errorf("extra[%d]: %w", i, err)
		}
		g.allow[n] = true
	}
	if g.socket {
		for _, f := range families {
			g.conds["socket"] = append(g.conds["socket"], condRule{"socket", []specs.LinuxSeccompArg{eq(0, f)}, familyNames[f]})
		}
	}

	s := &specs.LinuxSeccomp{
		DefaultAction:   denyAct,
		DefaultErrnoRet: denyErrno,
		Architectures:   []specs.Arch{arch.scmp},
	}
	if o.SpecAllow {
		s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}
	}
	named := map[string]bool{}

	// One entry per unconditional allow: see the package comment.
	for _, n := range sortedKeys(g.allow) {
		if !arch.exists(n) {
			continue
		}
		named[n] = true
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActAllow})
	}
	condNames := make([]string, 0, len(g.conds))
	for n := range g.conds {
		condNames = append(condNames, n)
	}
	sort.Strings(condNames)
	for _, n := range condNames {
		if g.allow[n] || !arch.exists(n) {
			continue
		}
		named[n] = true
		for _, c := range g.conds[n] {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names: []string{n}, Action: specs.ActAllow, Args: slices.Clone(c.args),
			})
		}
	}
	var enosys []string
	for _, n := range sortedKeys(g.enosys) {
		if g.allow[n] || len(g.conds[n]) > 0 || !arch.exists(n) {
			continue
		}
		named[n] = true
		enosys = append(enosys, n)
	}
	if len(enosys) > 0 {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: enosys, Action: specs.ActErrno, ErrnoRet: uintPtr(errnoENOSYS)})
	}
	var always, rest []string
	for _, n := range deniedAlways {
		if arch.exists(n) {
			named[n] = true
			always = append(always, n)
		}
	}
	for n := range syscallTable {
		if !named[n] && arch.exists(n) {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	s.Syscalls = append(s.Syscalls,
		specs.LinuxSyscall{Names: always, Action: denyAct, ErrnoRet: copyUint(denyErrno)},
		specs.LinuxSyscall{Names: rest, Action: denyAct, ErrnoRet: copyUint(denyErrno)},
	)
	return s, nil
}

func copyUint(p *uint) *uint {
	if p == nil {
		return nil
	}
	return uintPtr(*p)
}

// Values WithNotify writes to LinuxSeccomp.ListenerMetadata; they tell the
// listener how to answer every notification it receives.
const (
	// MetadataLearning: record the call and let it run
	// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
	MetadataLearning = "plugbox/learning"
	// MetadataEnforceErrno: record the call and fail it with EPERM.
	MetadataEnforceErrno = "plugbox/enforce-errno"
	// MetadataEnforceKill: record the call and kill the plugin.
	MetadataEnforceKill = "plugbox/enforce-kill"
)

// notifyForbidden are syscalls runc's libcontainer refuses to route to
// SCMP_ACT_NOTIFY: it writes the listener fd to its parent with write(2)
// after loading the filter, so a notifying write would hang the start.
var notifyForbidden = map[string]bool{"write": true}

// learnable are the argument patterns a group could allow: WithNotify
// routes them to the listener when the profile does not allow them, so
// learning mode sees (and Minimize can grant) e.g. socket(AF_INET) or a
// write-mode openat. Patterns are disjoint from every group's allow rule
// unless equal to it (equal ones are skipped).
var learnable = func() map[string][]condRule {
	m := map[string][]condRule{}
	for _, f := range []uint64{afUnix, afInet, afInet6, afNetlink} {
		m["socket"] = append(m["socket"], condRule{"socket", []specs.LinuxSeccompArg{eq(0, f)}, familyNames[f]})
	}
	m["clone"] = []condRule{cloneForkRule}
	m["ioctl"] = ioctlRules(ioTCSETS, ioTCSETSW, ioTCSETSF, ioTIOCSWINSZ, ioTIOCGPGRP, ioTIOCSPGRP)
	for _, name := range []string{"open", "openat"} {
		idx := uint(2)
		rule := openatReadRule
		if name == "open" {
			idx, rule = 1, openReadRule
		}
		m[name] = append(m[name], rule)
		for _, bit := range []uint64{0x1, 0x2, 0x40, 0x200, 0x400, 0x400000} {
			m[name] = append(m[name], condRule{name, []specs.LinuxSeccompArg{maskedEq(idx, bit, bit)}, "a write flag"})
		}
	}
	return m
}()

// dangerous are argument patterns no group allows; in enforce mode
// WithNotify routes them to the listener so the violation log names them.
var dangerous = func() map[string][]condRule {
	m := map[string][]condRule{}
	for _, f := range cloneFlagNames {
		m["clone"] = append(m["clone"], condRule{"clone", []specs.LinuxSeccompArg{maskedEq(0, f.bit, f.bit)}, f.name})
	}
	m["ioctl"] = ioctlRules(ioTIOCSTI, ioTIOCLINUX)
	return m
}()

// notifyAsENOSYS are calls learning mode answers ENOSYS instead of
// notifying, so the libc fallback (openat, whose flags seccomp can read) is
// what the listener records.
var notifyAsENOSYS = map[string]bool{"openat2": true}

// WithNotify returns a copy of s that sends denied calls to the seccomp
// user-notification listener (issue 4's violation log and learning mode).
// s should come from Generate. listenerPath is the OCI listenerPath runc
// sends the listener fd to; leave it empty when the runtime hands the fd
// over itself, as plugbox's shim does. WithNotify(nil, ...) is nil.
//
// With learning false (enforce), every deny rule becomes SCMP_ACT_NOTIFY and
// ListenerMetadata tells the listener to record and answer EPERM (or kill,
// for a "kill" profile). Argument patterns a group could allow (socket
// families, forks, write-mode opens, tty ioctls) and dangerous ones
// (clone with a namespace flag, TIOCSTI, TIOCLINUX) are routed too; other
// argument mismatches still get the default action without a record.
//
// With learning true, the calls a group could grant go to the listener,
// which records them and lets them run; DeniedAlways and the dangerous
// patterns stay denied without a record, and openat2 gets ENOSYS.
//
// The default action never becomes SCMP_ACT_NOTIFY: runc's libcontainer
// refuses that (and notify on write), because it needs write(2) after the
// filter is loaded. Calls newer than the profile keep getting ENOSYS.
func WithNotify(s *specs.LinuxSeccomp, listenerPath string, learning bool) *specs.LinuxSeccomp {
	if s == nil {
		return nil
	}
	out := cloneProfile(s)
	out.ListenerPath = listenerPath
	switch {
	case learning:
		out.ListenerMetadata = MetadataLearning
	case s.DefaultAction == specs.ActKillProcess || s.DefaultAction == specs.ActKill || s.DefaultAction == specs.ActKillThread:
		out.ListenerMetadata = MetadataEnforceKill
	default:
		out.ListenerMetadata = MetadataEnforceErrno
	}

	unconditional := map[string]bool{}
	allowed := map[string][][]specs.LinuxSeccompArg{}
	for _, e := range s.Syscalls {
		if e.Action != specs.ActAllow {
			continue
		}
		for _, n := range e.Names {
			if len(e.Args) == 0 {
				unconditional[n] = true
			} else {
				allowed[n] = append(allowed[n], e.Args)
			}
		}
	}
	always := map[string]bool{}
	for _, n := range deniedAlways {
		always[n] = true
	}

	var notify, enosys []string
	var kept []specs.LinuxSyscall
	for _, e := range out.Syscalls {
		if !isDenyRule(e) {
			kept = append(kept, e)
			continue
		}
		var stay []string
		for _, n := range e.Names {
			switch {
			case notifyForbidden[n], learnable[n] != nil:
				stay = append(stay, n)
			case learning && always[n]:
				stay = append(stay, n)
			case learning && notifyAsENOSYS[n]:
				enosys = append(enosys, n)
			default:
				notify = append(notify, n)
			}
		}
		if len(stay) > 0 {
			e.Names = stay
			kept = append(kept, e)
		}
	}
	patterns := []map[string][]condRule{learnable}
	if !learning {
		patterns = append(patterns, dangerous)
	}
	var condNotify []specs.LinuxSyscall
	for _, m := range patterns {
		for _, name := range sortedCondKeys(m) {
			if unconditional[name] {
				continue
			}
			for _, c := range m[name] {
				if slices.ContainsFunc(allowed[name], func(a []specs.LinuxSeccompArg) bool { return slices.Equal(a, c.args) }) {
					continue
				}
				condNotify = append(condNotify, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActNotify, Args: slices.Clone(c.args)})
			}
		}
	}
	// Unconditional deny rules for a name would override its conditional
	// notify rules in libseccomp, so the names that got patterns leave them.
	for i := range kept {
		if isDenyRule(kept[i]) {
			kept[i].Names = slices.DeleteFunc(kept[i].Names, func(n string) bool {
				return slices.ContainsFunc(condNotify, func(c specs.LinuxSyscall) bool { return c.Names[0] == n })
			})
		}
	}
	kept = slices.DeleteFunc(kept, func(e specs.LinuxSyscall) bool { return len(e.Names) == 0 })
	out.Syscalls = kept
	out.Syscalls = append(out.Syscalls, condNotify...)
	if len(enosys) > 0 {
		sort.Strings(enosys)
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: enosys, Action: specs.ActErrno, ErrnoRet: uintPtr(errnoENOSYS)})
	}
	if len(notify) > 0 {
		sort.Strings(notify)
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: notify, Action: specs.ActNotify})
	}
	return out
}

// isDenyRule reports whether e is an argument-free rule that denies with
// something other than ENOSYS (the violation action).
func isDenyRule(e specs.LinuxSyscall) bool {
	if len(e.Args) > 0 {
		return false
	}
	switch e.Action {
	case specs.ActErrno:
		return e.ErrnoRet == nil || *e.ErrnoRet != errnoENOSYS
	case specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
		return true
	}
	return false
}

func sortedCondKeys(m map[string][]condRule) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// cloneProfile deep-copies s.
func cloneProfile(s *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *s
	out.DefaultErrnoRet = copyUint(s.DefaultErrnoRet)
	out.Architectures = slices.Clone(s.Architectures)
	out.Flags = slices.Clone(s.Flags)
	out.Syscalls = make([]specs.LinuxSyscall, len(s.Syscalls))
	for i, e := range s.Syscalls {
		e.Names = slices.Clone(e.Names)
		e.Args = slices.Clone(e.Args)
		e.ErrnoRet = copyUint(e.ErrnoRet)
		out.Syscalls[i] = e
	}
	return &out
}
