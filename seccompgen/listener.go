package seccompgen

import (
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ListenerMode says what plugbox's seccomp listener (package monitor) does
// with the calls a profile sends it. Its values are monitor's mode names.
type ListenerMode string

const (
	// ListenLearning: record the call and let it run (learning mode).
	ListenLearning ListenerMode = "learning"
	// ListenViolations: record the call and fail it with EPERM (the
	// violation log of an enforcing profile).
	ListenViolations ListenerMode = "violations"
)

// Values ForListener writes to LinuxSeccomp.ListenerMetadata, so that
// Explain (and a reader of a recorded profile) can say how the listener
// answers.
const (
	// MetadataLearning: record the call and let it run
	// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
	MetadataLearning = "plugbox/learning"
	// MetadataEnforceErrno: record the call and fail it with EPERM.
	MetadataEnforceErrno = "plugbox/enforce-errno"
)

// notifyForbidden are syscalls runc's libcontainer refuses to route to
// SCMP_ACT_NOTIFY: it writes the listener fd to its parent with write(2)
// after loading the filter, so a notifying write would hang the start.
var notifyForbidden = map[string]bool{"write": true}

// learnable are the argument patterns a group could allow: learning routes
// them to the listener when the profile does not allow them, so learning
// mode sees (and Minimize can grant) e.g. socket(AF_INET) or a write-mode
// openat. Patterns are disjoint from every group's allow rule unless equal
// to it (equal ones are skipped).
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

// notifyAsENOSYS are calls learning mode answers ENOSYS instead of
// notifying, so the libc fallback (openat, whose flags seccomp can read) is
// what the listener records.
var notifyAsENOSYS = map[string]bool{"openat2": true}

// ForListener returns a copy of s that sends calls to plugbox's seccomp
// listener, which answers them as mode says; it is the one place a
// profile is rewritten for the listener. ForListener(nil, ...) is nil.
//
// ListenViolations: the default action and every rule that answers EPERM
// notify instead, and the listener answers EPERM and logs each one, so
// denials by argument (socket family, clone flags) are logged too. Calls
// answered with another errno (ENOSYS for clone3) or killed keep their
// action: nothing changes for them but the log.
//
// ListenLearning (s should come from Generate): only the calls a
// permission group could grant go to the listener, which records them and
// lets them run; DeniedAlways and the dangerous argument patterns stay
// denied without a record, and openat2 gets ENOSYS (see notifyAsENOSYS).
// The default action stays: calls newer than the profile keep ENOSYS.
func ForListener(s *specs.LinuxSeccomp, mode ListenerMode) *specs.LinuxSeccomp {
	if s == nil {
		return nil
	}
	if mode == ListenLearning {
		return forLearning(s)
	}
	out := cloneProfile(s)
	out.ListenerMetadata = MetadataEnforceErrno
	if isEPERM(out.DefaultAction, out.DefaultErrnoRet) {
		out.DefaultAction, out.DefaultErrnoRet = specs.ActNotify, nil
	}
	for i, rule := range out.Syscalls {
		if isEPERM(rule.Action, rule.ErrnoRet) {
			out.Syscalls[i].Action, out.Syscalls[i].ErrnoRet = specs.ActNotify, nil
		}
	}
	return out
}

// isEPERM reports whether action (with errnoRet) fails a call with EPERM.
func isEPERM(action specs.LinuxSeccompAction, errnoRet *uint) bool {
	return action == specs.ActErrno && (errnoRet == nil || *errnoRet == errnoEPERM)
}

// forLearning is ForListener's learning mode.
func forLearning(s *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := cloneProfile(s)
	out.ListenerMetadata = MetadataLearning

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
			case notifyForbidden[n], learnable[n] != nil, always[n]:
				stay = append(stay, n)
			case notifyAsENOSYS[n]:
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
	var condNotify []specs.LinuxSyscall
	for _, name := range sortedCondKeys(learnable) {
		if unconditional[name] {
			continue
		}
		for _, c := range learnable[name] {
			if slices.ContainsFunc(allowed[name], func(a []specs.LinuxSeccompArg) bool { return slices.Equal(a, c.args) }) {
				continue
			}
			condNotify = append(condNotify, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActNotify, Args: slices.Clone(c.args)})
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
