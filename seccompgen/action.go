package seccompgen

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ActionKind is what a profile does with a call it does not allow.
type ActionKind uint8

// The violation actions. The zero value is ActionErrno.
const (
	// ActionErrno fails the call with an errno (EPERM unless named). In
	// plugbox the call goes to the monitor, which answers that errno and
	// logs it.
	ActionErrno ActionKind = iota
	// ActionENOSYS fails the call with ENOSYS, as if the kernel lacked it,
	// so libc and language runtimes fall back. Nobody logs it.
	ActionENOSYS
	// ActionKill kills the whole process (SECCOMP_RET_KILL_PROCESS).
	ActionKill
	// ActionKillThread kills the calling thread only (SECCOMP_RET_KILL_THREAD).
	ActionKillThread
	// ActionTrap sends the calling thread SIGSYS, with the call's number in
	// si_syscall, so a handler of the plugin can react (SECCOMP_RET_TRAP).
	ActionTrap
	// ActionLog lets the call run; the kernel logs it (SECCOMP_RET_LOG).
	ActionLog
	// ActionAudit lets the call run and records it in plugbox's violation
	// log: the monitor answers "continue" (a permissive mode for trying a
	// profile). config.json says SCMP_ACT_LOG, so another runtime logs it
	// through the kernel instead.
	ActionAudit
)

// Action is one violation action, decoded from its manifest spelling.
type Action struct {
	Kind ActionKind
	// Errno is the errno of ActionErrno; 0 means EPERM.
	Errno uint
}

// actionNames are the manifest spellings, in documentation order.
var actionNames = []struct {
	kind ActionKind
	name string
}{
	{ActionErrno, "errno"}, {ActionENOSYS, "enosys"}, {ActionKill, "kill"}, {ActionKillThread, "kill-thread"},
	{ActionTrap, "trap"}, {ActionLog, "log"}, {ActionAudit, "audit"},
}

// ActionSpellings lists the accepted values of onViolation and
// syscallActions, for messages.
const ActionSpellings = `"errno" (EPERM), "errno:NAME" (e.g. "errno:EACCES"), "enosys", "kill", "kill-thread", "trap", "log" or "audit"`

// Linux errno values (the same on x86_64 and aarch64), spelled out so the
// policy builds on every OS.
var errnoValues = map[string]uint{
	"EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7, "EBADF": 9,
	"ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16, "EEXIST": 17,
	"EXDEV": 18, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21, "EINVAL": 22, "ENFILE": 23, "EMFILE": 24,
	"ENOTTY": 25, "EFBIG": 27, "ENOSPC": 28, "ESPIPE": 29, "EROFS": 30, "EMLINK": 31, "EPIPE": 32,
	"ERANGE": 34, "EDEADLK": 35, "ENAMETOOLONG": 36, "ENOLCK": 37, "ENOTEMPTY": 39, "ELOOP": 40,
	"ENODATA": 61, "ENOTSOCK": 88, "EPROTONOSUPPORT": 93, "EOPNOTSUPP": 95, "ENOTSUP": 95,
	"EAFNOSUPPORT": 97, "EADDRINUSE": 98, "EADDRNOTAVAIL": 99, "ENETUNREACH": 101, "ENOTCONN": 107,
	"ETIMEDOUT": 110, "ECONNREFUSED": 111, "EHOSTUNREACH": 113,
}

// ErrnoName returns the name of a Linux errno value ("EACCES"), or its
// number when plugbox has no name for it.
func ErrnoName(n uint) string {
	if n == errnoENOSYS {
		return "ENOSYS"
	}
	best := ""
	for name, v := range errnoValues {
		// ENOTSUP and EOPNOTSUPP share 95: prefer the shorter, stable name.
		if v == n && (best == "" || len(name) < len(best) || len(name) == len(best) && name < best) {
			best = name
		}
	}
	if best == "" {
		return strconv.FormatUint(uint64(n), 10)
	}
	return best
}

// ParseAction decodes one value of onViolation or syscallActions.
func ParseAction(s string) (Action, error) {
	if name, ok := strings.CutPrefix(s, "errno:"); ok {
		if name == "ENOSYS" {
			return Action{}, fmt.Errorf(`%q: use "enosys", which says what the plugin will see`, s)
		}
		n, ok := errnoValues[name]
		if !ok {
			return Action{}, fmt.Errorf("%q: %q is not an errno name plugbox knows: use one such as EPERM, EACCES, EINVAL, ENOTSUP", s, name)
		}
		if n == errnoEPERM {
			n = 0 // the canonical EPERM
		}
		return Action{Kind: ActionErrno, Errno: n}, nil
	}
	for _, a := range actionNames {
		if a.name == s {
			return Action{Kind: a.kind}, nil
		}
	}
	return Action{}, fmt.Errorf("%q: use %s", s, ActionSpellings)
}

// errno is the errno an ActionErrno answers.
func (a Action) errno() uint {
	if a.Errno == 0 {
		return errnoEPERM
	}
	return a.Errno
}

// String is the manifest spelling: "errno", "errno:EACCES", "kill", ...
func (a Action) String() string {
	if a.Kind == ActionErrno && a.errno() != errnoEPERM {
		return "errno:" + ErrnoName(a.errno())
	}
	for _, n := range actionNames {
		if n.kind == a.Kind {
			return n.name
		}
	}
	return fmt.Sprintf("action(%d)", a.Kind)
}

// Spec returns the config.json action (and errno) that carries a.
func (a Action) Spec() (specs.LinuxSeccompAction, *uint) {
	switch a.Kind {
	case ActionENOSYS:
		return specs.ActErrno, uintPtr(errnoENOSYS)
	case ActionKill:
		return specs.ActKillProcess, nil
	case ActionKillThread:
		return specs.ActKillThread, nil
	case ActionTrap:
		return specs.ActTrap, nil
	case ActionLog, ActionAudit:
		return specs.ActLog, nil
	}
	return specs.ActErrno, uintPtr(a.errno())
}

// Monitored reports whether plugbox's monitor answers the call and logs it
// (errno, audit); the other actions are decided by the kernel alone.
func (a Action) Monitored() bool {
	return a.Kind == ActionErrno || a.Kind == ActionAudit
}

// Denies reports whether the call fails or dies (every action but log and
// audit, which let it run).
func (a Action) Denies() bool {
	return a.Kind != ActionLog && a.Kind != ActionAudit
}

// ActionInfo documents one action: what the plugin sees and who logs it.
type ActionInfo struct {
	Name    string // manifest spelling
	Seccomp string // what config.json and the kernel get
	Plugin  string // what the plugin sees
	Log     string // where the call is recorded
}

// Actions documents every action, in the order README.md lists them.
func Actions() []ActionInfo {
	return []ActionInfo{
		{"errno", "SCMP_ACT_ERRNO(EPERM); plugbox routes it to its monitor (SCMP_ACT_NOTIFY)", "the call fails: -1 with errno EPERM", `plugbox's violation log: a "denied" line with "errno": "EPERM"`},
		{"errno:NAME", "SCMP_ACT_ERRNO(NAME), routed to the monitor like errno", "the call fails with that errno, e.g. EACCES", `plugbox's violation log: a "denied" line with that errno`},
		{"enosys", "SCMP_ACT_ERRNO(ENOSYS), decided by the kernel", "the call fails with ENOSYS, as if the kernel lacked it, so libc and language runtimes fall back", "nowhere (ENOSYS is how new calls are probed; use audit to see them)"},
		{"kill", "SCMP_ACT_KILL_PROCESS, decided by the kernel", "nothing: every thread dies at once, as if by SIGSYS (run exits 159)", "the kernel's audit log (kmsg without auditd); 'plugbox hook record' turns it into plugbox's format"},
		{"kill-thread", "SCMP_ACT_KILL_THREAD, decided by the kernel", "the calling thread dies; the other threads go on (the process dies with SIGSYS when it was the last)", "the kernel's audit log, as for kill"},
		{"trap", "SCMP_ACT_TRAP, decided by the kernel", "the call does not run; the thread gets SIGSYS with si_code SYS_SECCOMP and the call's number in si_syscall: a handler can react, without one the process dies", "nowhere: the plugin's handler is the one told"},
		{"log", "SCMP_ACT_LOG, decided by the kernel", "the call runs normally", "the kernel's audit log (kmsg without auditd); 'plugbox hook record' reads it"},
		{"audit", "SCMP_ACT_LOG in config.json; plugbox routes it to its monitor, which answers continue", "the call runs normally (a permissive mode for trying a profile)", `plugbox's violation log: an "audited" line (another runtime: the kernel's audit log, as for log)`},
	}
}

// Policy is a manifest's onViolation and syscallActions, decoded.
type Policy struct {
	// Default is the action for every call the profile does not allow.
	Default Action
	// Calls overrides Default for single calls, by syscall name.
	Calls map[string]Action
}

// ParsePolicy decodes onViolation (empty means "errno") and syscallActions.
// Errors name the manifest field.
func ParsePolicy(onViolation string, calls map[string]string) (Policy, error) {
	var p Policy
	if onViolation != "" {
		a, err := ParseAction(onViolation)
		if err != nil {
			return Policy{}, fmt.Errorf("onViolation %w", err)
		}
		p.Default = a
	}
	for _, name := range sortedMapKeys(calls) {
		if !KnownSyscall(name) {
			return Policy{}, fmt.Errorf("syscallActions[%q]: not a syscall plugbox knows: use the kernel's name, e.g. \"ptrace\"", name)
		}
		if name == "clone3" || name == "openat2" {
			return Policy{}, fmt.Errorf("syscallActions[%q]: %s, so no action applies to it: remove the entry", name, argFiltered[name])
		}
		a, err := ParseAction(calls[name])
		if err != nil {
			return Policy{}, fmt.Errorf("syscallActions[%q] %w", name, err)
		}
		if !a.Denies() && slices.Contains(deniedAlways, name) {
			return Policy{}, fmt.Errorf("syscallActions[%q]: %s is never granted (seccompgen.DeniedAlways), and %q would let it run: use errno, enosys, kill, kill-thread or trap", name, name, calls[name])
		}
		if p.Calls == nil {
			p.Calls = map[string]Action{}
		}
		p.Calls[name] = a
	}
	if err := p.check(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// check refuses log beside audit: both let the call run, and which one
// records it would depend on the runtime.
func (p Policy) check() error {
	var logs, audits []string
	for _, name := range append([]string{""}, sortedMapKeys(p.Calls)...) {
		a := p.Default
		field := "onViolation"
		if name != "" {
			a = p.Calls[name]
			field = fmt.Sprintf("syscallActions[%q]", name)
		}
		switch a.Kind {
		case ActionLog:
			logs = append(logs, field)
		case ActionAudit:
			audits = append(audits, field)
		}
	}
	if len(logs) > 0 && len(audits) > 0 {
		return fmt.Errorf(`%s is "log" and %s is "audit": both let the call run, so use one of them (audit records in plugbox's violation log, log in the kernel's)`, logs[0], audits[0])
	}
	return nil
}

// For returns the action for call name.
func (p Policy) For(name string) Action {
	if a, ok := p.Calls[name]; ok {
		return a
	}
	return p.Default
}

// Monitor returns the org.plugbox.monitor mode the policy needs: "audit"
// when an action is audit (the monitor then answers the errno actions too),
// "violations" when an action is errno, "" when the kernel decides alone.
func (p Policy) Monitor() string {
	mode := ""
	for _, a := range p.actions() {
		switch a.Kind {
		case ActionAudit:
			return "audit"
		case ActionErrno:
			mode = "violations"
		}
	}
	return mode
}

func (p Policy) actions() []Action {
	out := []Action{p.Default}
	for _, name := range sortedMapKeys(p.Calls) {
		out = append(out, p.Calls[name])
	}
	return out
}

// IsZero reports whether p is the default policy (every violation EPERM).
func (p Policy) IsZero() bool {
	return p.Default == Action{} && len(p.Calls) == 0
}

// policyJSON is Policy's JSON form, the manifest's own spelling.
type policyJSON struct {
	OnViolation    string            `json:"onViolation"`
	SyscallActions map[string]string `json:"syscallActions,omitempty"`
}

// MarshalJSON writes {"onViolation": ..., "syscallActions": {...}}.
func (p Policy) MarshalJSON() ([]byte, error) {
	j := policyJSON{OnViolation: p.Default.String()}
	for name, a := range p.Calls {
		if j.SyscallActions == nil {
			j.SyscallActions = map[string]string{}
		}
		j.SyscallActions[name] = a.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes, checking it as ParsePolicy.
func (p *Policy) UnmarshalJSON(data []byte) error {
	var j policyJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	v, err := ParsePolicy(j.OnViolation, j.SyscallActions)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// PolicyOf infers the default action of a profile plugbox did not record a
// policy for: the default action, read back (SCMP_ACT_LOG reads as log,
// or as audit when audit is true, i.e. when the bundle's monitor mode is
// "audit"). Per-call overrides cannot be told from plugbox's own rules, so
// there are none.
func PolicyOf(s *specs.LinuxSeccomp, audit bool) Policy {
	var p Policy
	if s == nil {
		return p
	}
	switch s.DefaultAction {
	case specs.ActErrno:
		if n := errnoOf(s.DefaultErrnoRet); n == errnoENOSYS {
			p.Default = Action{Kind: ActionENOSYS}
		} else if n != errnoEPERM {
			p.Default = Action{Kind: ActionErrno, Errno: n}
		}
	case specs.ActKillProcess:
		p.Default = Action{Kind: ActionKill}
	case specs.ActKill, specs.ActKillThread:
		p.Default = Action{Kind: ActionKillThread}
	case specs.ActTrap:
		p.Default = Action{Kind: ActionTrap}
	case specs.ActLog:
		p.Default = Action{Kind: ActionLog}
		if audit {
			p.Default = Action{Kind: ActionAudit}
		}
	}
	return p
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
