package seccompgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Learned is what a plugin was seen to use in learning mode, held as the
// exact allowlist a profile gets from it: the calls seen, each allowed with
// any arguments, except that the calls plugbox checks arguments of are
// allowed only for what was seen (socket for the families seen, ioctl for
// the requests seen, personality for the values seen, clone for the kinds
// seen: a thread, a process; open and openat read-only unless a write flag
// was seen). clone is learned by kind rather than by its exact flags
// because the kinds are what the filter tells apart, and glibc picks
// different flags for fork, vfork and posix_spawn. Every learned profile
// also allows learnedAlways and answers clone3 and openat2 ENOSYS.
type Learned struct {
	g    *grants
	arch archInfo
	// allowedNever are the NeverGranted calls allowed on purpose.
	allowedNever map[string]bool
}

// Refusal is a call learning mode saw but did not learn, because no
// profile plugbox writes may allow it (NeverGranted).
type Refusal struct {
	Name string
	Args [6]uint64
	Why  string
}

// String is "ptrace: debugs, reads or writes other processes".
func (r Refusal) String() string { return r.Name + ": " + r.Why }

// Learn turns the calls the listener recorded in learning mode into a
// Learned. A NeverGranted call is refused (returned, not learned) unless
// allowNever names it; then it is allowed exactly as seen (for argument
// patterns, the value seen) and 'plugbox check' rates the profile HIGH.
// A name plugbox does not know is refused too.
func Learn(observed []Observed, allowNever []string) (*Learned, []Refusal, error) {
	arch, err := archFor("")
	if err != nil {
		return nil, nil, err
	}
	for i, n := range allowNever {
		if !KnownSyscall(n) {
			return nil, nil, fmt.Errorf("allow[%d]: %q is not a syscall plugbox knows", i, n)
		}
	}
	l := &Learned{g: newGrants(), arch: arch, allowedNever: map[string]bool{}}
	var refused []Refusal
	seen := map[Observed]bool{}
	for _, o := range observed {
		key := LearnKey(o)
		if seen[key] {
			continue
		}
		seen[key] = true
		if !KnownSyscall(o.Name) {
			refused = append(refused, Refusal{Name: o.Name, Args: o.Args, Why: "not a syscall plugbox knows (newer than its table?)"})
			continue
		}
		if why, never := NeverGranted(o.Name, o.Args); never {
			if !slices.Contains(allowNever, o.Name) {
				refused = append(refused, Refusal{Name: o.Name, Args: o.Args, Why: why})
				continue
			}
			l.allowedNever[o.Name] = true
			l.addExact(o)
			continue
		}
		l.add(o)
	}
	l.finish()
	return l, refused, nil
}

// add learns one call that is not NeverGranted.
func (l *Learned) add(o Observed) {
	switch o.Name {
	case "socket":
		l.g.addCond(condRule{"socket", []specs.LinuxSeccompArg{eq(0, o.Args[0])}, familyNames[o.Args[0]]})
	case "ioctl":
		l.g.addCond(condRule{"ioctl", []specs.LinuxSeccompArg{eq(1, o.Args[1])}, ioctlNames[o.Args[1]]})
	case "personality":
		l.g.addCond(condRule{"personality", []specs.LinuxSeccompArg{eq(0, o.Args[0])}, ""})
	case "clone":
		if o.Args[0]&cloneThread != 0 {
			l.g.addCond(cloneThreadRule)
		} else {
			l.g.addCond(cloneForkRule)
		}
	case "clone3", "openat2":
		// Answered ENOSYS while learning, and in every learned profile.
	case "open", "openat":
		flags, rule := o.Args[2], openatReadRule
		if o.Name == "open" {
			flags, rule = o.Args[1], openReadRule
		}
		if flags&openWriteMask != 0 {
			l.g.allow[o.Name] = true
		} else {
			l.g.addCond(rule)
		}
	default:
		l.g.allow[o.Name] = true
	}
}

// addExact allows a NeverGranted call as seen: the argument value that
// made it one, or the whole call.
func (l *Learned) addExact(o Observed) {
	switch o.Name {
	case "clone", "socket", "personality":
		l.g.addCond(condRule{o.Name, []specs.LinuxSeccompArg{eq(0, o.Args[0])}, "allowed on purpose (trace --allow-denied)"})
	case "ioctl":
		l.g.addCond(condRule{"ioctl", []specs.LinuxSeccompArg{eq(1, o.Args[1])}, "allowed on purpose (trace --allow-denied)"})
	default:
		l.g.allow[o.Name] = true
	}
}

func (l *Learned) finish() {
	for _, n := range learnedAlways {
		l.g.allow[n] = true
	}
	l.g.enosys["clone3"] = true
	l.g.enosys["openat2"] = true
}

// LearnedFrom reads a learned profile back (for trace --merge): its
// SCMP_ACT_ALLOW rules, argument conditions kept as they are. The other
// rules are the policy's, which the next Profile writes afresh. allowNever
// must name each NeverGranted call the profile allows, as Learn's does.
func LearnedFrom(s *specs.LinuxSeccomp, allowNever []string) (*Learned, error) {
	if s == nil {
		return nil, fmt.Errorf("the profile is empty")
	}
	arch, err := archForScmp(s)
	if err != nil {
		return nil, err
	}
	l := &Learned{g: newGrants(), arch: arch, allowedNever: map[string]bool{}}
	for i, e := range s.Syscalls {
		if e.Action != specs.ActAllow {
			continue
		}
		for _, n := range e.Names {
			if !KnownSyscall(n) {
				return nil, fmt.Errorf("syscalls[%d]: %q is not a syscall plugbox knows", i, n)
			}
			if len(e.Args) == 0 {
				l.g.allow[n] = true
			} else {
				l.g.addCond(condRule{n, slices.Clone(e.Args), ""})
			}
		}
	}
	for _, n := range l.allowsNever() {
		if !slices.Contains(allowNever, n) {
			return nil, fmt.Errorf("it allows %s, which plugbox never grants: name it with --allow-denied to keep it", n)
		}
		l.allowedNever[n] = true
	}
	l.finish()
	return l, nil
}

// allowsNever lists the calls l allows that NeverGranted names for some
// arguments: DeniedAlways calls, and the argument rules that admit a
// never-granted value (see NeverGrantedRules).
func (l *Learned) allowsNever() []string {
	s, _, err := render(l.g, l.arch, Policy{}, false, false)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range NeverGrantedRules(s) {
		if !slices.Contains(out, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// Merge adds what o allows to l (one more traced run).
func (l *Learned) Merge(o *Learned) error {
	if l.arch != o.arch {
		return fmt.Errorf("merge: profiles for %s and %s", l.arch.scmp, o.arch.scmp)
	}
	for n := range o.g.allow {
		l.g.allow[n] = true
	}
	for _, n := range sortedCondKeys(o.g.conds) {
		for _, c := range o.g.conds[n] {
			l.g.addCond(c)
		}
	}
	for n := range o.g.enosys {
		l.g.enosys[n] = true
	}
	for n := range o.allowedNever {
		l.allowedNever[n] = true
	}
	return nil
}

// Profile writes the exact profile: l's allowlist and policy p for the
// rest. Per-call actions of p that cannot apply (the plugin used the call,
// so the profile allows it) are left out and named in the second result.
func (l *Learned) Profile(p Policy, specAllow bool) (*specs.LinuxSeccomp, []string, error) {
	return render(l.g, l.arch, p, specAllow, false)
}

// Calls lists, sorted, every call l allows with some arguments.
func (l *Learned) Calls() []string {
	m := map[string]bool{}
	for n := range l.g.allow {
		if l.arch.exists(n) {
			m[n] = true
		}
	}
	for n := range l.g.conds {
		if l.arch.exists(n) {
			m[n] = true
		}
	}
	return sortedKeys(m)
}

// AllowedNever lists, sorted, the NeverGranted calls l allows on purpose.
func (l *Learned) AllowedNever() []string { return sortedKeys(l.allowedNever) }

// Manifest returns the manifest fields (groups, extra calls, network) that
// would cover l, rounded up to permission groups as Minimize does, and the
// calls no manifest can grant (NeverGranted ones, ioctl requests no group
// lists, argument rules of other shapes).
func (l *Learned) Manifest() (Options, []string, error) {
	var observed []Observed
	var uncovered []string
	add := func(o Observed) {
		if why, never := NeverGranted(o.Name, o.Args); never {
			uncovered = append(uncovered, o.Name+" ("+why+")")
			return
		}
		observed = append(observed, o)
	}
	for _, n := range sortedKeys(l.g.allow) {
		switch n {
		case "open", "openat":
			o := Observed{Name: n}
			o.Args[map[string]int{"open": 1, "openat": 2}[n]] = 0x1 // a write flag
			add(o)
		default:
			if _, filtered := argFiltered[n]; filtered && n != "clone3" && n != "openat2" {
				uncovered = append(uncovered, n+" with any arguments (groups allow it only for some)")
				continue
			}
			add(Observed{Name: n})
		}
	}
	listed := map[uint64]bool{}
	for _, name := range []string{"base", "tty"} {
		for _, c := range groupIndex()[name].conds {
			if c.name == "ioctl" {
				listed[c.args[0].Value] = true
			}
		}
	}
	for _, n := range sortedCondKeys(l.g.conds) {
		if l.g.allow[n] {
			continue
		}
		for _, c := range l.g.conds[n] {
			o := Observed{Name: n}
			switch {
			case slices.Equal(c.args, cloneThreadRule.args):
				o.Args[0] = cloneThread
			case slices.Equal(c.args, cloneForkRule.args):
				o.Args[0] = 17 // SIGCHLD
			case slices.Equal(c.args, openatReadRule.args), slices.Equal(c.args, openReadRule.args):
			case len(c.args) == 1 && c.args[0].Op == specs.OpEqualTo && (n == "socket" || n == "personality" || n == "ioctl"):
				o.Args[c.args[0].Index] = c.args[0].Value
				if n == "ioctl" && !listed[c.args[0].Value] {
					if _, never := NeverGranted(n, o.Args); !never {
						uncovered = append(uncovered, fmt.Sprintf("ioctl %#x%s (no group lists this request)", c.args[0].Value, nameSuffix(ioctlNames[c.args[0].Value])))
						continue
					}
				}
			default:
				uncovered = append(uncovered, n+" when "+describeArgs(n, c.args))
				continue
			}
			add(o)
		}
	}
	opts, err := Minimize(observed)
	if err != nil {
		return Options{}, nil, err
	}
	sort.Strings(uncovered)
	return opts, slices.Compact(uncovered), nil
}

// AllowedCalls lists, sorted, the calls profile s lets run with some
// arguments (SCMP_ACT_ALLOW or SCMP_ACT_LOG rules, or every call when its
// default lets calls run): what "the profile allows N calls" counts.
func AllowedCalls(s *specs.LinuxSeccomp) []string {
	m := map[string]bool{}
	for _, e := range s.Syscalls {
		if e.Action == specs.ActAllow || e.Action == specs.ActLog {
			for _, n := range e.Names {
				m[n] = true
			}
		}
	}
	return sortedKeys(m)
}

// NeverGrantedRule is an allowing rule of a profile that lets a
// NeverGranted call run.
type NeverGrantedRule struct {
	Index int // in s.Syscalls
	Name  string
	What  string // e.g. "ptrace", "clone with CLONE_NEWUSER|CLONE_NEWNS"
}

// NeverGrantedRules finds the allowing rules (SCMP_ACT_ALLOW, SCMP_ACT_LOG)
// of s that let a NeverGranted call run: a DeniedAlways call, clone with an
// argument rule that admits a CLONE_NEW* flag, ioctl admitting TIOCSTI or
// TIOCLINUX, socket admitting a family beyond the four plugbox grants,
// personality admitting a value other than 0 and the query. Argument-free
// allows of clone, ioctl, socket and personality count too.
func NeverGrantedRules(s *specs.LinuxSeccomp) []NeverGrantedRule {
	var out []NeverGrantedRule
	for i, e := range s.Syscalls {
		if e.Action != specs.ActAllow && e.Action != specs.ActLog {
			continue
		}
		for _, n := range e.Names {
			if slices.Contains(deniedAlways, n) {
				out = append(out, NeverGrantedRule{i, n, n})
				continue
			}
			if what := admitsNever(n, e.Args); what != "" {
				out = append(out, NeverGrantedRule{i, n, what})
			}
		}
	}
	return out
}

// admitsNever says which never-granted values of call n the conditions
// admit ("" for none), probing each condition with the values that matter.
func admitsNever(n string, conds []specs.LinuxSeccompArg) string {
	admits := func(idx uint, v uint64) bool {
		var a [6]uint64
		a[idx] = v
		return argsMatch(conds, a)
	}
	switch n {
	case "clone":
		var hit []string
		for _, f := range cloneFlagNames {
			// the plain flag, and with the thread and fork flags glibc uses
			for _, base := range []uint64{0, 17, 0x3d0f00, 0x1200011} {
				if admits(0, f.bit|base) {
					hit = append(hit, f.name)
					break
				}
			}
		}
		// An exact value with namespace flags (trace --allow-denied clone).
		for _, c := range conds {
			if c.Index == 0 && c.Op == specs.OpEqualTo && c.Value&cloneNSMask != 0 {
				hit = append(hit, cloneFlagsText(c.Value&cloneNSMask))
			}
		}
		if len(hit) > 0 {
			return "clone with " + strings.Join(slices.Compact(hit), "|")
		}
	case "ioctl":
		for _, r := range []uint64{ioTIOCSTI, ioTIOCLINUX} {
			if admits(1, r) {
				return "ioctl " + ioctlNames[r]
			}
		}
	case "socket":
		for _, c := range conds {
			if c.Index == 0 && c.Op == specs.OpEqualTo && !slices.Contains(grantableFamilies, c.Value) {
				return fmt.Sprintf("socket family %d", c.Value)
			}
		}
		for _, f := range []uint64{0, 3, 17, 38, 40, 44, 64} {
			if admits(0, f) {
				return fmt.Sprintf("socket family %d", f)
			}
		}
	case "personality":
		for _, c := range conds {
			if c.Index == 0 && c.Op == specs.OpEqualTo && c.Value != personaLinux && c.Value != personaQuery {
				return fmt.Sprintf("personality(%#x)", c.Value)
			}
		}
		for _, p := range []uint64{0x0400000, 0x0040000, 0x0008} {
			if admits(0, p) {
				return fmt.Sprintf("personality(%#x)", p)
			}
		}
	}
	return ""
}
