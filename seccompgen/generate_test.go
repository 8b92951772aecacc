package seccompgen

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// verdict evaluates profile s for one call the way libseccomp and runc
// would (pure Go, for tests): the action and errno, or "stub" for ENOSYS
// from the stub.
func verdict(t *testing.T, s *specs.LinuxSeccomp, name string, args [6]uint64) string {
	t.Helper()
	arch, err := archForScmp(s)
	if err != nil {
		t.Fatal(err)
	}
	var conds []specs.LinuxSyscall
	for _, e := range s.Syscalls {
		if !slices.Contains(e.Names, name) || sameAction(e, s) {
			continue
		}
		if len(e.Args) == 0 {
			return actionString(e.Action, e.ErrnoRet)
		}
		conds = append(conds, e)
	}
	for _, e := range conds {
		if matches(e.Args, args) {
			return actionString(e.Action, e.ErrnoRet)
		}
	}
	named := false
	for _, e := range s.Syscalls {
		named = named || slices.Contains(e.Names, name)
	}
	if !named && stubApplies(s) && syscallTable()[name][arch.col] > highestNamed(s, arch) {
		return "ENOSYS"
	}
	return actionString(s.DefaultAction, s.DefaultErrnoRet)
}

func matches(conds []specs.LinuxSeccompArg, args [6]uint64) bool {
	for _, c := range conds {
		v := args[c.Index]
		var ok bool
		switch c.Op {
		case specs.OpEqualTo:
			ok = v == c.Value
		case specs.OpNotEqual:
			ok = v != c.Value
		case specs.OpMaskedEqual:
			ok = v&c.Value == c.ValueTwo
		case specs.OpGreaterThan:
			ok = v > c.Value
		case specs.OpLessThan:
			ok = v < c.Value
		}
		if !ok {
			return false
		}
	}
	return true
}

func actionString(a specs.LinuxSeccompAction, errnoRet *uint) string {
	switch a {
	case specs.ActAllow:
		return "ALLOW"
	case specs.ActErrno:
		return ErrnoName(errnoOf(errnoRet))
	case specs.ActKillProcess:
		return "KILL"
	case specs.ActKillThread:
		return "KILL_THREAD"
	case specs.ActTrap:
		return "TRAP"
	case specs.ActLog:
		return "LOG"
	case specs.ActNotify:
		return "NOTIFY"
	}
	return string(a)
}

func TestGenerate(t *testing.T) {
	type call struct {
		name string
		args [6]uint64
		want string
	}
	c := func(name, want string, args ...uint64) call {
		var a [6]uint64
		copy(a[:], args)
		return call{name, a, want}
	}
	tests := []struct {
		name  string
		opts  Options
		calls []call
	}{
		{"base only", Options{Arch: "amd64"}, []call{
			c("getpid", "ALLOW"), c("read", "ALLOW"), c("execve", "ALLOW"), c("rseq", "ALLOW"),
			c("clone", "ALLOW", cloneThread|0x100|0x200|0x400|0x800),
			c("clone", "EPERM", 17), // fork needs process
			c("clone", "EPERM", cloneThread|cloneNewUser),
			c("clone3", "ENOSYS"),
			c("socket", "EPERM", afUnix), c("openat", "EPERM"),
			c("ioctl", "ALLOW", 0, ioTCGETS), c("ioctl", "EPERM", 0, ioTIOCSTI),
			c("ioctl", "EPERM", 0, ioTCGETS|1<<32), c("ioctl", "EPERM", 0, ioTCSETS),
			c("personality", "ALLOW", personaQuery), c("personality", "EPERM", 0x0008),
			c("ptrace", "EPERM"), c("bpf", "EPERM"), c("mount", "EPERM"), c("fork", "EPERM"),
			c("mseal", "EPERM"),
		}},
		{"fs-read", Options{Groups: []string{"fs-read"}, Arch: "amd64"}, []call{
			c("openat", "ALLOW", 0, 0, 0), c("openat", "ALLOW", 0, 0, 0x80000|0x10000|0x20000),
			c("openat", "EPERM", 0, 0, 1), c("openat", "EPERM", 0, 0, 0x40), c("openat", "EPERM", 0, 0, 0x200),
			c("openat", "EPERM", 0, 0, 0x410000), c("open", "ALLOW", 0, 0), c("open", "EPERM", 0, 2),
			c("openat2", "ENOSYS"), c("getdents64", "ALLOW"), c("unlinkat", "EPERM"),
		}},
		{"fs-read and fs-write merge", Options{Groups: []string{"fs-read", "fs-write"}, Arch: "amd64"}, []call{
			c("openat", "ALLOW", 0, 0, 0x241), c("openat2", "ALLOW"), c("unlinkat", "ALLOW"), c("getdents64", "ALLOW"),
		}},
		{"net none", Options{Groups: []string{"net-client"}, Arch: "amd64"}, []call{
			c("socket", "ALLOW", afUnix), c("socket", "EPERM", afInet), c("socket", "EPERM", afInet6),
			c("socket", "EPERM", afNetlink), c("socket", "EPERM", afUnix|1<<32), c("connect", "ALLOW"), c("bind", "EPERM"),
		}},
		{"net loopback server", Options{Groups: []string{"net-server"}, Network: NetworkLoopback, Arch: "amd64"}, []call{
			c("socket", "ALLOW", afInet), c("socket", "ALLOW", afInet6), c("socket", "EPERM", afNetlink),
			c("socket", "EPERM", 17), c("bind", "ALLOW"), c("accept4", "ALLOW"),
		}},
		{"net host", Options{Groups: []string{"net-client"}, Network: NetworkHost, Arch: "amd64"}, []call{
			c("socket", "ALLOW", afNetlink), c("socket", "EPERM", 17),
		}},
		{"process and tty", Options{Groups: []string{"process", "tty"}, Arch: "amd64"}, []call{
			c("clone", "ALLOW", 17), c("clone", "ALLOW", cloneThread), c("clone", "EPERM", 17|cloneNewNet),
			c("clone", "EPERM", cloneNewNS), c("fork", "ALLOW"), c("wait4", "ALLOW"),
			c("ioctl", "ALLOW", 0, ioTCSETS), c("ioctl", "EPERM", 0, ioTIOCSTI), c("ioctl", "EPERM", 0, ioTIOCLINUX),
		}},
		{"extra", Options{Extra: []string{"mlock", "uname"}, Arch: "amd64"}, []call{
			c("mlock", "ALLOW"), c("munlock", "EPERM"),
		}},
		{"kill", Options{Violations: Policy{Default: Action{Kind: ActionKill}}, Arch: "amd64"}, []call{
			c("ptrace", "KILL"), c("socket", "KILL", afInet), c("clone3", "ENOSYS"), c("getpid", "ALLOW"),
		}},
		{"arm64", Options{Groups: []string{"fs-write", "process"}, Arch: "arm64"}, []call{
			c("openat", "ALLOW"), c("clone", "ALLOW", 17), c("getpid", "ALLOW"), c("ptrace", "EPERM"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Generate(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, cl := range tt.calls {
				if got := verdict(t, s, cl.name, cl.args); got != cl.want {
					t.Errorf("%s%v: got %s, want %s", cl.name, cl.args[:3], got, cl.want)
				}
			}
		})
	}
}

func TestGenerateShape(t *testing.T) {
	s, err := Generate(Options{Groups: []string{"fs-read"}, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != errnoEPERM {
		t.Errorf("default: %s %v, want SCMP_ACT_ERRNO EPERM", s.DefaultAction, s.DefaultErrnoRet)
	}
	if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64}) {
		t.Errorf("architectures %v, want only x86_64", s.Architectures)
	}
	if len(s.Flags) != 0 {
		t.Errorf("flags %v, want none without SpecAllow", s.Flags)
	}
	if len(s.Syscalls) <= 32 {
		t.Errorf("%d entries: runc enables libseccomp's binary tree only above 32", len(s.Syscalls))
	}
	// Every known x86_64 syscall is named exactly once outside the
	// conditional rules, so the stub's threshold is the table's top.
	seen := map[string]int{}
	for _, e := range s.Syscalls {
		for _, n := range e.Names {
			if len(e.Args) == 0 {
				seen[n]++
			}
		}
		if len(e.Args) > 0 && len(e.Names) != 1 {
			t.Errorf("conditional rule %v names several syscalls", e.Names)
		}
		idx := map[uint]bool{}
		for _, a := range e.Args {
			if idx[a.Index] {
				t.Errorf("rule %v: two conditions on arg%d would be ORed by runc", e.Names, a.Index)
			}
			idx[a.Index] = true
		}
	}
	cond := map[string]bool{"clone": true, "ioctl": true, "personality": true, "openat": true, "open": true}
	for n, nr := range syscallTable() {
		if nr[0] < 0 {
			continue
		}
		if want := map[bool]int{true: 0, false: 1}[cond[n]]; seen[n] != want {
			t.Errorf("%s named %d times without args, want %d", n, seen[n], want)
		}
	}
	// Hot calls are argument-free.
	for _, e := range s.Syscalls {
		if len(e.Args) > 0 && !cond[e.Names[0]] && e.Names[0] != "socket" {
			t.Errorf("argument check on %s: only clone, socket, ioctl, personality and open(at) may have one", e.Names[0])
		}
	}
	sa, err := Generate(Options{SpecAllow: true, Arch: "arm64", Violations: Policy{Default: Action{Kind: ActionKill}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sa.Flags, []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}) {
		t.Errorf("flags %v, want SPEC_ALLOW", sa.Flags)
	}
	if sa.DefaultAction != specs.ActKillProcess || sa.DefaultErrnoRet != nil {
		t.Errorf("kill default: %s %v", sa.DefaultAction, sa.DefaultErrnoRet)
	}
	if !slices.Equal(sa.Architectures, []specs.Arch{specs.ArchAARCH64}) {
		t.Errorf("arm64 architectures %v", sa.Architectures)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Groups: []string{"fs-raed"}}, `groups[0]: unknown syscall group "fs-raed"`},
		{Options{Extra: []string{"getpid", "not_a_call"}}, `extra[1]: "not_a_call" is not a syscall`},
		{Options{Extra: []string{"ptrace"}}, "never granted"},
		{Options{Extra: []string{"ioctl"}}, "argument-checking groups"},
		{Options{Extra: []string{"openat"}}, "fs-read"},
		{Options{Network: "internet"}, `network "internet"`},
		{Options{Network: NetworkLoopback}, "no group grants socket"},
		{Options{Violations: Policy{Calls: map[string]Action{"read": {Kind: ActionKill}}}}, `syscallActions["read"]: the profile allows read`},
		{Options{Violations: Policy{Calls: map[string]Action{"ioctl": {Kind: ActionKill}}}}, `syscallActions["ioctl"]: ioctl is allowed for some arguments`},
		{Options{Violations: Policy{Default: Action{Kind: ActionLog}, Calls: map[string]Action{"mount": {Kind: ActionAudit}}}}, `use one of them`},
		{Options{Arch: "riscv64"}, `architecture "riscv64"`},
	}
	for _, tt := range tests {
		_, err := Generate(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%+v) = %v, want error containing %q", tt.opts, err, tt.want)
		}
	}
}

func TestGroups(t *testing.T) {
	gs := Groups()
	if !sort.SliceIsSorted(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name }) {
		t.Error("Groups() is not sorted by name")
	}
	denied := map[string]bool{}
	for _, n := range DeniedAlways() {
		denied[n] = true
		if !KnownSyscall(n) {
			t.Errorf("DeniedAlways: unknown %q", n)
		}
	}
	if !slices.IsSorted(DeniedAlways()) {
		t.Error("DeniedAlways() is not sorted")
	}
	for _, want := range []string{"ptrace", "bpf", "keyctl", "add_key", "request_key", "mount", "umount2", "pivot_root", "unshare", "setns", "userfaultfd", "perf_event_open", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "open_by_handle_at", "io_uring_setup"} {
		if !denied[want] {
			t.Errorf("DeniedAlways lacks %s", want)
		}
	}
	for _, g := range gs {
		if g.Summary == "" || strings.Contains(g.Summary, "\n") {
			t.Errorf("group %s: summary must be one line", g.Name)
		}
		if !slices.IsSorted(g.Syscalls) || len(g.Syscalls) == 0 {
			t.Errorf("group %s: syscalls empty or unsorted", g.Name)
		}
		for _, n := range g.Syscalls {
			if !KnownSyscall(n) {
				t.Errorf("group %s: unknown syscall %q", g.Name, n)
			}
			if denied[n] {
				t.Errorf("group %s grants %s, which is in DeniedAlways", g.Name, n)
			}
		}
		got, err := LookupGroup(g.Name)
		if err != nil || got.Name != g.Name {
			t.Errorf("LookupGroup(%q) = %v, %v", g.Name, got.Name, err)
		}
	}
	if _, err := LookupGroup("network"); err == nil || !strings.Contains(err.Error(), "net-client") {
		t.Errorf("LookupGroup(network) = %v, want an error listing the groups", err)
	}
	for _, d := range groupDefs {
		for _, n := range d.allow {
			if _, ok := argFiltered[n]; ok && d.name != "fs-write" {
				t.Errorf("group %s allows argument-filtered %s unconditionally", d.name, n)
			}
		}
	}
}
