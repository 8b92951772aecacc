package seccompgen

import (
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Values Route and LearningProfile write to LinuxSeccomp.ListenerMetadata,
// saying how the listener answers what it receives.
const (
	// MetadataLearning: record the call and let it run
	// (SECCOMP_USER_NOTIF_FLAG_CONTINUE), unless NeverGranted says it is a
	// call no profile grants.
	MetadataLearning = "plugbox/learning"
	// MetadataEnforce: record the call and answer what the profile it was
	// routed from decides (Decide): its errno, or "continue" for audit.
	MetadataEnforce = "plugbox/enforce"
)

// Route returns a copy of s for plugbox's monitor: the default action and
// every rule that fails a call with an errno other than ENOSYS notify
// instead, and with audit so do the SCMP_ACT_LOG ones. The monitor answers
// each notified call what s decides for it (Decide), so a routed profile
// fails and allows exactly what s does, and the monitor logs each call it
// answers. ENOSYS answers (clone3, openat2, calls newer than the profile,
// onViolation "enosys"), kills and traps stay with the kernel.
// Route(nil, ...) is nil.
func Route(s *specs.LinuxSeccomp, audit bool) *specs.LinuxSeccomp {
	if s == nil {
		return nil
	}
	routed := func(a specs.LinuxSeccompAction, ret *uint) bool {
		switch a {
		case specs.ActErrno:
			return errnoOf(ret) != errnoENOSYS
		case specs.ActLog:
			return audit
		}
		return false
	}
	out := cloneProfile(s)
	out.ListenerMetadata = MetadataEnforce
	if routed(out.DefaultAction, out.DefaultErrnoRet) {
		out.DefaultAction, out.DefaultErrnoRet = specs.ActNotify, nil
	}
	for i, e := range out.Syscalls {
		if routed(e.Action, e.ErrnoRet) {
			out.Syscalls[i].Action, out.Syscalls[i].ErrnoRet = specs.ActNotify, nil
		}
	}
	return out
}

// learnedAlways are the calls every learned profile allows, seen or not:
// the exec shim's calls under the filter (its read of the monitor's byte,
// the plugin's execve, and the write and exit of its report should that
// execve fail), writing (a traced run rarely takes the paths that report
// errors), exiting, returning from a signal handler and the kernel's
// restart of an interrupted call, which a traced run may not happen to
// make.
var learnedAlways = []string{"execve", "exit", "exit_group", "read", "restart_syscall", "rt_sigreturn", "write"}

// LearningProfile is the filter of learning mode (plugbox trace) for the
// architecture goarch ("" for this one): every call goes to the listener,
// which records it and lets it run, except the calls every learned profile
// allows anyway (learnedAlways: they run unrecorded) and clone3 and
// openat2, which get ENOSYS so that libc falls back to clone and openat,
// whose arguments a profile can check. The listener refuses (EPERM) what
// NeverGranted names, unless trace was told to allow it. Only plugbox's
// exec shim loads it: runc refuses a SCMP_ACT_NOTIFY default.
func LearningProfile(goarch string) (*specs.LinuxSeccomp, error) {
	arch, err := archFor(goarch)
	if err != nil {
		return nil, err
	}
	s := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActNotify,
		Architectures:    []specs.Arch{arch.scmp},
		ListenerMetadata: MetadataLearning,
	}
	for _, n := range learnedAlways {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActAllow})
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"clone3", "openat2"}, Action: specs.ActErrno, ErrnoRet: uintPtr(errnoENOSYS)})
	// Every other call is named (with the default action, which compiles
	// to nothing) so the ENOSYS stub's bound is the table's newest call.
	var rest []string
	for n := range syscallTable() {
		if arch.exists(n) && !slices.Contains(learnedAlways, n) && n != "clone3" && n != "openat2" {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: rest, Action: specs.ActNotify})
	return s, nil
}

// Verdict is what a profile does with one call.
type Verdict struct {
	Action specs.LinuxSeccompAction
	// Errno is the errno of SCMP_ACT_ERRNO (EPERM when the profile names
	// none).
	Errno uint
}

// Decider answers Decide for one profile, indexed once.
type Decider struct {
	s       *specs.LinuxSeccomp
	arch    archInfo
	highest int
	rules   map[string][]specs.LinuxSyscall
	named   map[string]bool
}

// NewDecider indexes s for Decide.
func NewDecider(s *specs.LinuxSeccomp) (*Decider, error) {
	if s == nil {
		return nil, fmt.Errorf("decide: nil profile")
	}
	arch, err := archForScmp(s)
	if err != nil {
		return nil, err
	}
	d := &Decider{s: s, arch: arch, highest: highestNamed(s, arch), rules: map[string][]specs.LinuxSyscall{}, named: map[string]bool{}}
	for _, e := range s.Syscalls {
		for _, n := range e.Names {
			d.named[n] = true
			if !sameAction(e, s) {
				d.rules[n] = append(d.rules[n], e)
			}
		}
	}
	return d, nil
}

// Decide says what the profile does with call name and its arguments, with
// runc's and libseccomp's semantics: rules with the default action do
// nothing, an argument-free rule beats the conditional ones, a conditional
// rule matches when all its conditions do (several on one argument match
// when any does, as runc splits them), an unnamed call newer than every
// named one gets the ENOSYS stub's answer, and the rest get the default.
// Of several matching conditional rules the first decides (plugbox's own
// never overlap).
func (d *Decider) Decide(name string, args [6]uint64) Verdict {
	rules := d.rules[name]
	for _, e := range rules {
		if len(e.Args) == 0 {
			return verdictOf(e.Action, e.ErrnoRet)
		}
	}
	for _, e := range rules {
		if argsMatch(e.Args, args) {
			return verdictOf(e.Action, e.ErrnoRet)
		}
	}
	if !d.named[name] && stubApplies(d.s) {
		if nr, ok := syscallTable()[name]; ok && nr[d.arch.col] > d.highest {
			return Verdict{Action: specs.ActErrno, Errno: errnoENOSYS}
		}
	}
	return verdictOf(d.s.DefaultAction, d.s.DefaultErrnoRet)
}

func verdictOf(a specs.LinuxSeccompAction, ret *uint) Verdict {
	v := Verdict{Action: a}
	if a == specs.ActErrno {
		v.Errno = errnoOf(ret)
	}
	return v
}

// argsMatch applies one rule's conditions as runc hands them to libseccomp.
func argsMatch(conds []specs.LinuxSeccompArg, args [6]uint64) bool {
	perIndex := map[uint]int{}
	for _, c := range conds {
		perIndex[c.Index]++
	}
	split := false
	for _, n := range perIndex {
		split = split || n > 1
	}
	for _, c := range conds {
		ok := c.Index < 6 && condMatches(c, args[c.Index])
		if split && ok {
			return true
		}
		if !split && !ok {
			return false
		}
	}
	return !split
}

func condMatches(c specs.LinuxSeccompArg, v uint64) bool {
	switch c.Op {
	case specs.OpEqualTo:
		return v == c.Value
	case specs.OpNotEqual:
		return v != c.Value
	case specs.OpLessThan:
		return v < c.Value
	case specs.OpLessEqual:
		return v <= c.Value
	case specs.OpGreaterThan:
		return v > c.Value
	case specs.OpGreaterEqual:
		return v >= c.Value
	case specs.OpMaskedEqual:
		return v&c.Value == c.ValueTwo
	}
	return false
}

// neverReasons says, for each DeniedAlways call, what it would open.
var neverReasons = func() map[string]string {
	m := map[string]string{}
	for why, names := range map[string][]string{
		"debugs, reads or writes other processes":                                                      {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"},
		"reaches the kernel's keyrings":                                                                {"add_key", "request_key", "keyctl"},
		"reaches BPF or perf, kernel code with a history of privilege escalation":                      {"bpf", "perf_event_open"},
		"io_uring makes system calls that seccomp never sees":                                          {"io_uring_setup", "io_uring_enter", "io_uring_register"},
		"changes mounts or namespaces":                                                                 {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr", "setns", "unshare"},
		"opens files by handle, around the mount namespace":                                            {"name_to_handle_at", "open_by_handle_at"},
		"loads kernel code":                                                                            {"init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms", "kexec_load", "kexec_file_load", "uselib"},
		"changes the host (time, hostname, swap, reboot, accounting, quotas, the kernel log, the tty)": {"reboot", "swapon", "swapoff", "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup", "nfsservctl", "_sysctl", "lookup_dcookie"},
		"reaches I/O ports or the LDT":                                                                 {"ioperm", "iopl", "modify_ldt"},
		"stalls the kernel on page faults at will, a classic exploit primitive":                        {"userfaultfd"},
	} {
		for _, n := range names {
			m[n] = why
		}
	}
	return m
}()

// NeverGranted reports whether no manifest may let this call run, and why:
// a DeniedAlways call, clone with a CLONE_NEW* flag, the ioctl requests
// TIOCSTI and TIOCLINUX (which type into or control the terminal), a
// personality other than the default and the query, or a socket family
// beyond AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK. Learning mode refuses
// these unless told otherwise, and permissive profiles keep them denied.
func NeverGranted(name string, args [6]uint64) (why string, never bool) {
	if slices.Contains(deniedAlways, name) {
		why := neverReasons[name]
		if why == "" {
			why = "plugbox never grants it"
		}
		return why, true
	}
	switch name {
	case "clone":
		if ns := args[0] & cloneNSMask; ns != 0 {
			return fmt.Sprintf("clone with %s creates namespaces, widening the kernel surface", cloneFlagsText(ns)), true
		}
	case "ioctl":
		switch req := uint32(args[1]); req {
		case ioTIOCSTI, ioTIOCLINUX:
			return fmt.Sprintf("ioctl %s types into or controls the terminal it shares with the host", ioctlNames[uint64(req)]), true
		}
	case "personality":
		if p := uint32(args[0]); p != personaLinux && p != personaQuery {
			return fmt.Sprintf("personality(%#x) changes the execution domain (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE)", p), true
		}
	case "socket":
		if f := uint64(uint32(args[0])); !slices.Contains(grantableFamilies, f) {
			return fmt.Sprintf("socket family %d is outside AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK", f), true
		}
	}
	return "", false
}

func cloneFlagsText(bits uint64) string {
	s := ""
	for _, f := range cloneFlagNames {
		if bits&f.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += f.name
		}
	}
	return s
}

// LearnKey returns o with only the arguments a learned profile depends on
// (socket's family, ioctl's request, personality's value, clone's flags,
// the write flags of open and openat), so a listener can record each
// distinct use once.
func LearnKey(o Observed) Observed {
	k := Observed{Name: o.Name}
	switch o.Name {
	case "socket", "personality", "clone":
		k.Args[0] = o.Args[0]
	case "ioctl":
		k.Args[1] = o.Args[1]
	case "open":
		k.Args[1] = o.Args[1] & openWriteMask
	case "openat":
		k.Args[2] = o.Args[2] & openWriteMask
	}
	return k
}
