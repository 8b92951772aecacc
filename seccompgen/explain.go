package seccompgen

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Explain says what profile s does with syscall name and why: the rule
// that decides (by its index in s.Syscalls), its argument conditions with
// the constants spelled out, the action, and which groups grant the call.
// It follows runc's semantics: rules with the default action are no-ops,
// an argument-free rule beats conditional ones, calls that match no rule get
// the default action, and calls numbered above every syscall the profile
// names get ENOSYS from runc's stub. Unknown names are errors.
//
// monitor is the bundle's org.plugbox.monitor annotation ("violations",
// "audit" or ""), which says whether plugbox's monitor answers and logs the
// errno denials and, for "audit", the SCMP_ACT_LOG calls.
func Explain(s *specs.LinuxSeccomp, name, monitor string) (string, error) {
	if s == nil {
		return "", errors.New("explain: nil profile")
	}
	nrs, ok := syscallTable()[name]
	if !ok {
		return "", fmt.Errorf("explain: %q is not a syscall plugbox knows", name)
	}
	arch, err := archForScmp(s)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", name, err)
	}
	var b strings.Builder
	nr := nrs[arch.col]
	if nr < 0 {
		fmt.Fprintf(&b, "%s does not exist on %s: the kernel answers ENOSYS before seccomp sees a number", name, arch.scmp)
		return b.String(), nil
	}
	fmt.Fprintf(&b, "%s (%s #%d): ", name, arch.scmp, nr)
	def := describeAction(s.DefaultAction, s.DefaultErrnoRet, s, monitor)

	type hit struct {
		i int
		e specs.LinuxSyscall
	}
	var uncond, cond, asDefault []hit
	for i, e := range s.Syscalls {
		if !slices.Contains(e.Names, name) {
			continue
		}
		switch {
		case sameAction(e, s):
			asDefault = append(asDefault, hit{i, e})
		case len(e.Args) == 0:
			uncond = append(uncond, hit{i, e})
		default:
			cond = append(cond, hit{i, e})
		}
	}
	switch {
	case len(uncond) > 0:
		h := uncond[0]
		fmt.Fprintf(&b, "%s, any arguments (rule %d)", describeAction(h.e.Action, h.e.ErrnoRet, s, monitor), h.i)
		if len(uncond) > 1 {
			fmt.Fprintf(&b, "; %d more argument-free rules name it, which libseccomp may refuse or merge", len(uncond)-1)
		}
		if len(cond) > 0 {
			fmt.Fprintf(&b, "; its %d conditional rules are overridden", len(cond))
		}
	case len(cond) > 0:
		b.WriteString("decided by its arguments:")
		for _, h := range cond {
			fmt.Fprintf(&b, "\n  rule %d: %s when %s", h.i, describeAction(h.e.Action, h.e.ErrnoRet, s, monitor), describeArgs(name, h.e.Args))
		}
		fmt.Fprintf(&b, "\n  otherwise: %s (the default action)", def)
	case len(asDefault) > 0:
		fmt.Fprintf(&b, "%s (rule %d lists it with the default action)", def, asDefault[0].i)
	default:
		highest := highestNamed(s, arch)
		if stubApplies(s) && nr > highest {
			fmt.Fprintf(&b, "ENOSYS: not named, and newer than the highest syscall the profile names (#%d), so the runtime's stub answers ENOSYS", highest)
		} else {
			fmt.Fprintf(&b, "%s (not named: the default action)", def)
		}
	}
	if slices.Contains(deniedAlways, name) {
		b.WriteString("\nplugbox never grants it (DeniedAlways)")
	} else if why, ok := argFiltered[name]; ok {
		fmt.Fprintf(&b, "\nargument-filtered: %s", why)
	}
	if gs := grantingGroups(name); len(gs) > 0 {
		fmt.Fprintf(&b, "\ngroups that grant it: %s", strings.Join(gs, ", "))
	}
	return b.String(), nil
}

// sameAction reports whether entry e acts like the default action, which
// runc skips.
func sameAction(e specs.LinuxSyscall, s *specs.LinuxSeccomp) bool {
	if e.Action != s.DefaultAction {
		return false
	}
	if e.Action != specs.ActErrno && e.Action != specs.ActTrace {
		return true
	}
	return errnoOf(e.ErrnoRet) == errnoOf(s.DefaultErrnoRet)
}

func errnoOf(p *uint) uint {
	if p == nil {
		return errnoEPERM
	}
	return *p
}

func stubApplies(s *specs.LinuxSeccomp) bool {
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return false
	case specs.ActErrno:
		return errnoOf(s.DefaultErrnoRet) != errnoENOSYS
	}
	return true
}

func highestNamed(s *specs.LinuxSeccomp, arch archInfo) int {
	highest := -1
	for _, e := range s.Syscalls {
		for _, n := range e.Names {
			if nr, ok := syscallTable()[n]; ok && nr[arch.col] > highest {
				highest = nr[arch.col]
			}
		}
	}
	return highest
}

var errnoNames = map[uint]string{errnoEPERM: "EPERM", errnoENOSYS: "ENOSYS"}

// describeAction says what action a does to the plugin and who records the
// call, given the bundle's monitor mode ("violations", "audit" or "": see
// Explain).
func describeAction(a specs.LinuxSeccompAction, errnoRet *uint, s *specs.LinuxSeccomp, monitor string) string {
	switch a {
	case specs.ActAllow:
		return "allowed"
	case specs.ActErrno:
		e := errnoOf(errnoRet)
		if e == errnoENOSYS {
			return "answered ENOSYS, as if the kernel lacked it (libc falls back); not logged"
		}
		d := "denied with " + ErrnoName(e) + ": the call fails (-1, errno " + ErrnoName(e) + ")"
		if monitor != "" {
			return d + "; plugbox's monitor answers it and logs a \"denied\" line"
		}
		return d + "; not logged (no plugbox monitor)"
	case specs.ActKillProcess:
		return "kills the whole plugin (SCMP_ACT_KILL_PROCESS): every thread dies as by SIGSYS; the kernel's audit log records it"
	case specs.ActKill, specs.ActKillThread:
		return "kills the calling thread only (" + string(a) + "): the others go on; the kernel's audit log records it"
	case specs.ActTrap:
		return "trapped (SCMP_ACT_TRAP): the call does not run, and the thread gets SIGSYS with the call's number in si_syscall, for its own handler (without one the plugin dies); not logged"
	case specs.ActLog:
		if monitor == "audit" {
			return "audited: it runs, and plugbox's monitor logs an \"audited\" line (SCMP_ACT_LOG: other runtimes leave it to the kernel's audit log)"
		}
		return "allowed and logged by the kernel (SCMP_ACT_LOG: its audit log, kmsg without auditd)"
	case specs.ActNotify:
		switch s.ListenerMetadata {
		case MetadataLearning:
			return "sent to the listener, which records it and lets it run (learning), unless plugbox never grants it"
		case MetadataEnforce:
			return "sent to plugbox's monitor, which answers what the profile it was routed from decides and logs it"
		}
		return "sent to the seccomp listener (SCMP_ACT_NOTIFY)"
	case specs.ActTrace:
		return "handed to a ptrace tracer (SCMP_ACT_TRACE); without one the call fails with ENOSYS"
	}
	return string(a)
}

func describeArgs(name string, args []specs.LinuxSeccompArg) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, describeArg(name, a))
	}
	return strings.Join(parts, " and ")
}

var opSymbols = map[specs.LinuxSeccompOperator]string{
	specs.OpNotEqual: "!=", specs.OpLessThan: "<", specs.OpLessEqual: "<=", specs.OpEqualTo: "==",
	specs.OpGreaterEqual: ">=", specs.OpGreaterThan: ">",
}

func describeArg(name string, a specs.LinuxSeccompArg) string {
	if a.Op == specs.OpMaskedEqual {
		s := fmt.Sprintf("arg%d & %#x == %#x", a.Index, a.Value, a.ValueTwo)
		if name == "clone" && a.Index == 0 {
			var flags []string
			for _, f := range cloneFlagNames {
				if a.Value&f.bit != 0 {
					flags = append(flags, f.name)
				}
			}
			switch {
			case a.Value&cloneNSMask == cloneNSMask && a.ValueTwo == cloneThread:
				s += " (a thread: CLONE_THREAD, no CLONE_NEW* flag)"
			case a.Value&cloneNSMask == cloneNSMask && a.ValueTwo == 0:
				s += " (no CLONE_NEW* flag"
				if a.Value&cloneThread != 0 {
					s += ", no CLONE_THREAD"
				}
				s += ")"
			case len(flags) > 0 && a.Value == a.ValueTwo:
				s += " (" + strings.Join(flags, "|") + " set)"
			}
		}
		if (name == "openat" && a.Index == 2) || (name == "open" && a.Index == 1) {
			if a.Value == openWriteMask && a.ValueTwo == 0 {
				s += " (read-only: no O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE)"
			} else if a.Value == a.ValueTwo {
				s += " (a write flag set)"
			}
		}
		return s
	}
	s := fmt.Sprintf("arg%d %s %#x", a.Index, opSymbols[a.Op], a.Value)
	if a.Op == specs.OpEqualTo {
		switch {
		case name == "socket" && a.Index == 0:
			if n, ok := familyNames[a.Value]; ok {
				s += " (" + n + ")"
			}
		case name == "ioctl" && a.Index == 1:
			if n, ok := ioctlNames[a.Value]; ok {
				s += " (" + n + ")"
			}
		case name == "personality" && a.Value == personaQuery:
			s += " (query)"
		case name == "personality" && a.Value == personaLinux:
			s += " (PER_LINUX)"
		}
	}
	return s
}

// grantingGroups lists the groups that allow name at least in part.
func grantingGroups(name string) []string {
	var out []string
	for _, g := range Groups() {
		if slices.Contains(g.Syscalls, name) {
			out = append(out, g.Name)
		}
	}
	return out
}
