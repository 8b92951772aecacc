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
	// Violations says what a call the profile does not allow gets: the
	// zero value fails every such call with EPERM.
	Violations Policy
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
	nr, ok := syscallTable()[name]
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

func uintPtr(v uint) *uint { return &v }

// grants is the merged policy of several groups (or what learning mode saw):
// per syscall, an unconditional allow beats conditional allows, which beat
// ENOSYS.
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
		g.addCond(c)
	}
	for _, n := range d.enosys {
		g.enosys[n] = true
	}
	g.socket = g.socket || d.socket
}

// addCond adds a conditional allow unless an equal one is there.
func (g *grants) addCond(c condRule) {
	if !slices.ContainsFunc(g.conds[c.name], func(o condRule) bool { return slices.Equal(o.args, c.args) }) {
		g.conds[c.name] = append(g.conds[c.name], c)
	}
}

// resolveGroups merges base and the named groups.
func resolveGroups(names []string) (*grants, error) {
	g := newGrants()
	g.add(groupIndex()["base"])
	for i, n := range names {
		d, ok := groupIndex()[n]
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
// forbidden Extra syscalls, unknown Network values and violation actions
// that cannot apply (to a call the profile allows, or to the requests of
// ioctl the profile does not list) are errors, never silently dropped.
func Generate(o Options) (*specs.LinuxSeccomp, error) {
	arch, err := archFor(o.Arch)
	if err != nil {
		return nil, err
	}
	families, err := networkFamilies(o.Network)
	if err != nil {
		return nil, err
	}
	if err := o.Violations.check(); err != nil {
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
	s, _, err := render(g, arch, o.Violations, o.SpecAllow, true)
	return s, err
}

// render writes the profile for g: one entry per unconditional allow, the
// conditional allows, the ENOSYS answers, then every other call plugbox
// knows with the policy's action for it (per-call actions of
// argument-checked calls as rules for the arguments g does not allow). With
// strict, a per-call action that cannot apply is an error; otherwise it is
// left out and named in the second result.
func render(g *grants, arch archInfo, p Policy, specAllow, strict bool) (*specs.LinuxSeccomp, []string, error) {
	defAct, defErrno := p.Default.Spec()
	s := &specs.LinuxSeccomp{
		DefaultAction:   defAct,
		DefaultErrnoRet: defErrno,
		Architectures:   []specs.Arch{arch.scmp},
	}
	if specAllow {
		s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}
	}
	named := map[string]bool{}
	var ignored []string
	skip := func(err error) error {
		if strict {
			return err
		}
		ignored = append(ignored, err.Error())
		return nil
	}

	// One entry per unconditional allow: see the package comment.
	for _, n := range sortedKeys(g.allow) {
		if !arch.exists(n) {
			continue
		}
		named[n] = true
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActAllow})
	}
	var denyConds []specs.LinuxSyscall
	for _, n := range sortedCondKeys(g.conds) {
		if g.allow[n] || !arch.exists(n) {
			continue
		}
		named[n] = true
		for _, c := range g.conds[n] {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
				Names: []string{n}, Action: specs.ActAllow, Args: slices.Clone(c.args),
			})
		}
		a, ok := p.Calls[n]
		if !ok || a == p.Default {
			continue
		}
		rules, err := complement(n, g.conds[n])
		if err != nil {
			if err := skip(fmt.Errorf("syscallActions[%q]: %w", n, err)); err != nil {
				return nil, nil, err
			}
			continue
		}
		act, ret := a.Spec()
		for _, args := range rules {
			denyConds = append(denyConds, specs.LinuxSyscall{Names: []string{n}, Action: act, ErrnoRet: copyUint(ret), Args: args})
		}
	}
	for _, n := range sortedMapKeys(p.Calls) {
		if g.allow[n] && arch.exists(n) {
			if err := skip(fmt.Errorf("syscallActions[%q]: the profile allows %s, and an action applies only to calls it denies: remove the entry, or the group or extraSyscalls entry that allows it", n, n)); err != nil {
				return nil, nil, err
			}
		}
	}
	if !p.Default.Denies() {
		for _, c := range guards(g) {
			if _, overridden := p.Calls[c.name]; g.allow[c.name] || overridden || !arch.exists(c.name) {
				continue
			}
			named[c.name] = true
			denyConds = append(denyConds, specs.LinuxSyscall{Names: []string{c.name}, Action: specs.ActErrno, ErrnoRet: uintPtr(errnoEPERM), Args: slices.Clone(c.args)})
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
	s.Syscalls = append(s.Syscalls, denyConds...)
	var always, rest []string
	for _, n := range deniedAlways {
		if arch.exists(n) && !named[n] {
			named[n] = true
			always = append(always, n)
		}
	}
	for n := range syscallTable() {
		if !named[n] && arch.exists(n) {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	// DeniedAlways stays denied (EPERM) under a default that lets calls run.
	alwaysPolicy := p
	if !p.Default.Denies() {
		alwaysPolicy.Default = Action{}
	}
	s.Syscalls = append(s.Syscalls, denyEntries(always, alwaysPolicy)...)
	s.Syscalls = append(s.Syscalls, denyEntries(rest, p)...)
	return s, ignored, nil
}

// denyEntries lists names (sorted) with the policy's action for each: one
// entry per action, the default's first (the compiler skips it, but it keeps
// every name in the profile, which sets the ENOSYS stub's bound).
func denyEntries(names []string, p Policy) []specs.LinuxSyscall {
	byAction := map[Action][]string{}
	for _, n := range names {
		a := p.For(n)
		byAction[a] = append(byAction[a], n)
	}
	actions := make([]Action, 0, len(byAction))
	for a := range byAction {
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool {
		if (actions[i] == p.Default) != (actions[j] == p.Default) {
			return actions[i] == p.Default
		}
		return actions[i].String() < actions[j].String()
	})
	var out []specs.LinuxSyscall
	for _, a := range actions {
		act, ret := a.Spec()
		out = append(out, specs.LinuxSyscall{Names: byAction[a], Action: act, ErrnoRet: ret})
	}
	return out
}

// guards are the argument patterns no manifest may let run (see
// NeverGranted) that g does not allow: a profile whose default action lets
// calls run (log, audit) gets EPERM rules for them, so a permissive trial
// does not open namespaces, TIOCSTI or exotic socket families. A call with
// an argument rule of another shape (a learned profile that allows such a
// pattern on purpose) gets no guard.
func guards(g *grants) []condRule {
	var out []condRule
	if standardOnly(g.conds["clone"], cloneThreadRule, cloneForkRule) {
		for _, m := range disjointBits(cloneNSMask) {
			out = append(out, condRule{"clone", []specs.LinuxSeccompArg{maskedEq(0, m.mask, m.bit)}, "a CLONE_NEW* flag"})
		}
	}
	// The kernel reads ioctl's request as 32 bits: compare those only.
	for _, req := range []uint64{ioTIOCSTI, ioTIOCLINUX} {
		if !slices.ContainsFunc(g.conds["ioctl"], func(o condRule) bool { return uint32(o.args[0].Value) == uint32(req) }) {
			out = append(out, condRule{"ioctl", []specs.LinuxSeccompArg{maskedEq(1, 0xffffffff, req)}, ioctlNames[req]})
		}
	}
	families := slices.Clone(grantableFamilies)
	for _, c := range g.conds["socket"] {
		if len(c.args) != 1 || c.args[0].Index != 0 || c.args[0].Op != specs.OpEqualTo || c.args[0].Value >= 64 {
			return out
		}
		families = append(families, c.args[0].Value)
	}
	for _, args := range complementFamilies(families) {
		out = append(out, condRule{"socket", args, "a socket family plugbox never grants"})
	}
	return out
}

// standardOnly reports whether every rule of conds is one of std.
func standardOnly(conds []condRule, std ...condRule) bool {
	for _, c := range conds {
		if !slices.ContainsFunc(std, func(s condRule) bool { return slices.Equal(s.args, c.args) }) {
			return false
		}
	}
	return true
}

// complement returns the argument conditions, as disjoint rules, that
// match every call of name the allow rules conds do not match, so that a
// per-call action covers them too (libseccomp sends the arguments no rule
// matches to the default action). It knows the shapes plugbox's rules
// take; for ioctl and personality, whose other values seccomp cannot list
// compactly, it fails.
func complement(name string, conds []condRule) ([][]specs.LinuxSeccompArg, error) {
	is := func(c condRule, want condRule) bool { return slices.Equal(c.args, want.args) }
	switch name {
	case "clone":
		thread, fork := false, false
		for _, c := range conds {
			switch {
			case is(c, cloneThreadRule):
				thread = true
			case is(c, cloneForkRule):
				fork = true
			default:
				return nil, fmt.Errorf("clone has an argument rule of its own (%s), which a per-call action cannot be combined with", describeArgs(name, c.args))
			}
		}
		var out [][]specs.LinuxSeccompArg
		for _, mask := range disjointBits(cloneNSMask) {
			out = append(out, []specs.LinuxSeccompArg{maskedEq(0, mask.mask, mask.bit)})
		}
		if !thread {
			out = append(out, slices.Clone(cloneThreadRule.args))
		}
		if !fork {
			out = append(out, slices.Clone(cloneForkRule.args))
		}
		return out, nil
	case "open", "openat":
		rule, idx := openatReadRule, uint(2)
		if name == "open" {
			rule, idx = openReadRule, 1
		}
		for _, c := range conds {
			if !is(c, rule) {
				return nil, fmt.Errorf("%s has an argument rule of its own (%s), which a per-call action cannot be combined with", name, describeArgs(name, c.args))
			}
		}
		var out [][]specs.LinuxSeccompArg
		for _, m := range disjointBits(openWriteMask) {
			out = append(out, []specs.LinuxSeccompArg{maskedEq(idx, m.mask, m.bit)})
		}
		return out, nil
	case "socket":
		var allowed []uint64
		for _, c := range conds {
			if len(c.args) != 1 || c.args[0].Index != 0 || c.args[0].Op != specs.OpEqualTo || c.args[0].Value >= 64 {
				return nil, fmt.Errorf("socket has an argument rule of its own (%s), which a per-call action cannot be combined with", describeArgs(name, c.args))
			}
			allowed = append(allowed, c.args[0].Value)
		}
		out := complementFamilies(allowed)
		return out, nil
	}
	return nil, fmt.Errorf("%s is allowed for some arguments, and the others get onViolation's action: seccomp cannot list every other value compactly, so a per-call action for %s is not supported: remove the entry, or change onViolation", name, name)
}

// complementFamilies returns disjoint conditions on socket's family that
// match every value but allowed (all below 64).
func complementFamilies(allowed []uint64) [][]specs.LinuxSeccompArg {
	top := slices.Max(allowed)
	var out [][]specs.LinuxSeccompArg
	for v := uint64(0); v < top; v++ {
		if !slices.Contains(allowed, v) {
			out = append(out, []specs.LinuxSeccompArg{eq(0, v)})
		}
	}
	return append(out, []specs.LinuxSeccompArg{{Index: 0, Value: top, Op: specs.OpGreaterThan}})
}

type maskBit struct{ mask, bit uint64 }

// disjointBits splits "some bit of set is set" into disjoint masked
// comparisons: bit k set and every lower bit of set clear.
func disjointBits(set uint64) []maskBit {
	var out []maskBit
	var lower uint64
	for b := uint64(1); b != 0; b <<= 1 {
		if set&b == 0 {
			continue
		}
		out = append(out, maskBit{mask: b | lower, bit: b})
		lower |= b
	}
	return out
}

func copyUint(p *uint) *uint {
	if p == nil {
		return nil
	}
	return uintPtr(*p)
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
