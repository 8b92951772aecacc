//go:build cgo && seccomp

package seccompgen

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func nativeCol(t *testing.T) int {
	t.Helper()
	a, err := archFor("")
	if err != nil {
		t.Skip(err)
	}
	return a.col
}

// TestGroupsResolve checks every group's syscalls against libseccomp's
// table for the native architecture, and plugbox's table against
// libseccomp's for both architectures wherever libseccomp knows the name.
func TestGroupsResolve(t *testing.T) {
	col := nativeCol(t)
	for _, g := range Groups() {
		for _, n := range g.Syscalls {
			want := syscallTable()[n][col]
			if want < 0 {
				continue
			}
			nr, err := ResolveNative(n)
			if err != nil {
				t.Errorf("group %s: %v", g.Name, err)
				continue
			}
			if nr != want {
				t.Errorf("group %s: %s is #%d in libseccomp, #%d in plugbox's table", g.Name, n, nr, want)
			}
		}
	}
	for n, nrs := range syscallTable() {
		for i, arch := range []libseccomp.ScmpArch{libseccomp.ArchAMD64, libseccomp.ArchARM64} {
			nr, err := libseccomp.GetSyscallFromNameByArch(n, arch)
			if err != nil {
				continue // newer than this libseccomp
			}
			got := int(nr)
			if got < 0 {
				got = -1 // libseccomp's pseudo-number: absent on arch
			}
			if got != nrs[i] {
				t.Errorf("%s on %s: libseccomp #%d, table #%d", n, arch, got, nrs[i])
			}
		}
	}
	if _, err := ResolveNative("no_such_call"); err == nil {
		t.Error("ResolveNative(no_such_call): no error")
	}
	if name, err := SyscallName(syscallTable()["getpid"][col]); err != nil || name != "getpid" {
		t.Errorf("SyscallName(getpid's number) = %q, %v", name, err)
	}
}

func profiles(t *testing.T) map[string]*specs.LinuxSeccomp {
	t.Helper()
	out := map[string]*specs.LinuxSeccomp{}
	pol := func(def string, calls map[string]string) Policy {
		p, err := ParsePolicy(def, calls)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, o := range map[string]Options{
		"base":        {},
		"all":         {Groups: GroupNames(), Network: NetworkHost, SpecAllow: true},
		"kill":        {Groups: []string{"fs-read", "net-client"}, Violations: pol("kill", nil)},
		"net-fsread":  {Groups: []string{"fs-read", "net-client"}},
		"kill-thread": {Groups: []string{"fs-read"}, Violations: pol("kill-thread", nil)},
		"trap":        {Violations: pol("trap", nil)},
		"enosys":      {Violations: pol("enosys", nil)},
		"log":         {Groups: []string{"net-client"}, Violations: pol("log", nil)},
		"audit":       {Groups: []string{"fs-read", "net-client"}, Violations: pol("audit", map[string]string{"mount": "errno:EACCES"})},
		"overrides": {Groups: []string{"fs-read", "net-client", "process"}, Network: NetworkLoopback, Violations: pol("errno:EACCES", map[string]string{
			"ptrace": "kill", "mount": "errno", "getpriority": "trap", "setpriority": "kill-thread", "clone": "kill", "socket": "errno:EAFNOSUPPORT", "openat": "errno:EROFS",
		})},
	} {
		s, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
		out[name+"+enforce"] = Route(s, name == "audit")
	}
	learning, err := LearningProfile("")
	if err != nil {
		t.Fatal(err)
	}
	out["learning"] = learning
	return out
}

func TestCompile(t *testing.T) {
	nativeCol(t)
	for name, s := range profiles(t) {
		f, err := Compile(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f.Release()
		prog, err := Program(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%s: %d BPF instructions", name, len(prog))
		var buf bytes.Buffer
		if err := Export(s, &buf, "bpf"); err != nil || buf.Len() != 8*len(prog) {
			t.Errorf("%s: Export bpf: %d bytes, %v; want %d", name, buf.Len(), err, 8*len(prog))
		}
	}
	var pfc bytes.Buffer
	if err := Export(profiles(t)["base"], &pfc, "pfc"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# plugbox: ENOSYS stub in front", "action KILL_PROCESS", "action ERRNO(38)"} {
		if !strings.Contains(pfc.String(), want) {
			t.Errorf("pfc export lacks %q", want)
		}
	}
	if err := Export(profiles(t)["base"], &pfc, "json"); err == nil {
		t.Error("Export format json: no error")
	}
}

func TestCompileFailsClosed(t *testing.T) {
	eperm := uint(1)
	tests := []struct {
		name string
		s    *specs.LinuxSeccomp
		want string
	}{
		{"unknown allowed name", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "getpidd"}, Action: specs.ActAllow}}}, `"getpidd" is not known`},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, "not known"},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, "flags[0]"},
		{"bad arch", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{"x86_64"}}, "not an SCMP_ARCH_ name"},
		{"bad operator", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_ABOUT"}}}}}, "operator"},
	}
	for _, tt := range tests {
		f, err := Compile(tt.s)
		if err == nil {
			f.Release()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Compile = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	// Unknown names in denying rules are skipped: the default denies them.
	f, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getpid"}, Action: specs.ActAllow},
		{Names: []string{"future_call"}, Action: specs.ActKillProcess}}})
	if err != nil {
		t.Fatalf("deny rule with an unknown name: %v", err)
	}
	f.Release()
}

// runBPF runs prog on one seccomp_data input with Evaluate.
func runBPF(t *testing.T, prog []unix.SockFilter, nr int32, arch uint32, args [6]uint64) uint32 {
	t.Helper()
	ret, err := Evaluate(prog, SeccompData{Nr: nr, Arch: arch, Args: args})
	if err != nil {
		t.Fatalf("runBPF: %v", err)
	}
	return ret
}

const (
	retAllow       = 0x7fff0000
	retKillProcess = 0x80000000
	retNotify      = 0x7fc00000
	retEPERM       = retErrno | errnoEPERM
	retENOSYS      = retErrno | errnoENOSYS
)

func TestProgramSimulated(t *testing.T) {
	col := nativeCol(t)
	audit := uint32(auditArchX86_64)
	if runtime.GOARCH == "arm64" {
		audit = auditArchAARCH64
	}
	nr := func(name string) int32 { return int32(syscallTable()[name][col]) }
	a := func(v ...uint64) [6]uint64 {
		var out [6]uint64
		copy(out[:], v)
		return out
	}
	type call struct {
		name string
		nr   int32
		arch uint32
		args [6]uint64
		want uint32
	}
	ps := profiles(t)
	tests := map[string][]call{
		"net-fsread": {
			{"getpid", nr("getpid"), audit, a(), retAllow},
			{"socket AF_UNIX", nr("socket"), audit, a(afUnix), retAllow},
			{"socket AF_INET", nr("socket"), audit, a(afInet), retEPERM},
			{"socket AF_UNIX|1<<32", nr("socket"), audit, a(afUnix | 1<<32), retEPERM},
			{"ioctl TIOCSTI", nr("ioctl"), audit, a(0, ioTIOCSTI), retEPERM},
			{"ioctl TIOCSTI|1<<32", nr("ioctl"), audit, a(0, ioTIOCSTI|1<<32), retEPERM},
			{"ioctl TCGETS", nr("ioctl"), audit, a(0, ioTCGETS), retAllow},
			{"clone thread", nr("clone"), audit, a(cloneThread | 0xf00), retAllow},
			{"clone thread+newnet", nr("clone"), audit, a(cloneThread | cloneNewNet), retEPERM},
			{"clone fork", nr("clone"), audit, a(17), retEPERM},
			{"clone3", nr("clone3"), audit, a(), retENOSYS},
			{"openat rdonly", nr("openat"), audit, a(0, 0, 0x80000), retAllow},
			{"openat creat", nr("openat"), audit, a(0, 0, 0x41), retEPERM},
			{"openat rdonly high bits", nr("openat"), audit, a(0, 0, 1<<40), retAllow},
			{"ptrace", nr("ptrace"), audit, a(), retEPERM},
			{"nr 1000", 1000, audit, a(), retENOSYS},
			// Newer than libseccomp 2.5.4 but in plugbox's table: the
			// profile's action, not the stub's ENOSYS.
			{"statmount (457)", nr("statmount"), audit, a(), retEPERM},
			{"lsm_set_self_attr (460)", nr("lsm_set_self_attr"), audit, a(), retEPERM},
			{"file_setattr (469)", nr("file_setattr"), audit, a(), retEPERM},
			{"nr 470", 470, audit, a(), retENOSYS},
			{"i386 getpid", 20, 0x40000003, a(), retKillProcess},
			{"arm32", 20, 0x40000028, a(), retKillProcess},
		},
		"kill": {
			{"ptrace", nr("ptrace"), audit, a(), retKillProcess},
			{"socket AF_INET", nr("socket"), audit, a(afInet), retKillProcess},
			{"mseal (462)", nr("mseal"), audit, a(), retKillProcess},
			{"nr 1000", 1000, audit, a(), retENOSYS},
			{"getpid", nr("getpid"), audit, a(), retAllow},
		},
		"learning": {
			{"socket AF_INET", nr("socket"), audit, a(afInet), retNotify},
			{"ptrace", nr("ptrace"), audit, a(), retNotify},
			{"fork", nr("clone"), audit, a(17), retNotify},
			{"write", nr("write"), audit, a(), retAllow},
			{"writev", nr("writev"), audit, a(), retNotify},
			{"read", nr("read"), audit, a(), retAllow},
			{"execve", nr("execve"), audit, a(), retAllow},
			{"clone3", nr("clone3"), audit, a(), retENOSYS},
			{"file_setattr (469)", nr("file_setattr"), audit, a(), retNotify},
			{"nr 470", 470, audit, a(), retENOSYS},
		},
	}
	if runtime.GOARCH == "amd64" {
		for _, name := range []string{"getpid", "read", "write", "execve"} {
			tests["net-fsread"] = append(tests["net-fsread"], call{"x32 " + name, nr(name) | x32SyscallBit, audit, a(), 0})
		}
	}
	for pname, calls := range tests {
		prog, err := Program(ps[pname])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			got := runBPF(t, prog, c.nr, c.arch, c.args)
			if strings.HasPrefix(c.name, "x32 ") {
				// libseccomp treats x32 as a foreign architecture.
				if got != retKillProcess {
					t.Errorf("%s: %s: got %#x, want the bad-architecture kill", pname, c.name, got)
				}
				continue
			}
			if got != c.want {
				t.Errorf("%s: %s: got %#x, want %#x", pname, c.name, got, c.want)
			}
		}
	}
}

// TestWithoutUnknownKeepsOtherArchCalls is podman's --cap-drop all profile
// in small: x86_64+x86+x32, socket allowed by family, socketcall allowed.
// Dropping socketcall (no x86_64 number) made libseccomp refuse the x86
// socket rules ("rule for socket: file exists").
func TestWithoutUnknownKeepsOtherArchCalls(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the profile names x86 architectures")
	}
	errno := uint(unix.EPERM)
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &errno,
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "socketcall", "_llseek", "no_such_call_xyz"}, Action: specs.ActAllow},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo}}},
		},
	}
	out, dropped := WithoutUnknown(s)
	if strings.Join(dropped, ",") != "no_such_call_xyz" {
		t.Fatalf("dropped %v, want only the name libseccomp does not know", dropped)
	}
	if !strings.Contains(strings.Join(out.Syscalls[0].Names, ","), "socketcall") {
		t.Fatalf("socketcall was dropped: %v", out.Syscalls[0].Names)
	}
	if _, err := Program(out); err != nil {
		t.Fatalf("trimmed profile does not compile: %v", err)
	}
}

func TestEvaluateRefusesWhatItCannotRun(t *testing.T) {
	for name, prog := range map[string][]unix.SockFilter{
		"off the end":    {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}},
		"unknown opcode": {{Code: unix.BPF_ALU | unix.BPF_MUL | unix.BPF_K, K: 2}, {Code: unix.BPF_RET | unix.BPF_K}},
		"load past data": {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 64}, {Code: unix.BPF_RET | unix.BPF_K}},
		"unaligned load": {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 2}, {Code: unix.BPF_RET | unix.BPF_K}},
	} {
		if _, err := Evaluate(prog, SeccompData{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestEvaluateRunsEveryCompiledProfile: the interpreter the backend checks
// programs with covers every instruction libseccomp emits for plugbox's
// profiles, on every native number and a spread of arguments.
func TestEvaluateRunsEveryCompiledProfile(t *testing.T) {
	arch, err := NativeAuditArch()
	if err != nil {
		t.Skip(err)
	}
	for name, s := range profiles(t) {
		prog, err := Program(s)
		if err != nil {
			t.Fatal(err)
		}
		for nr := int32(0); nr < 480; nr++ {
			for _, v := range []uint64{0, 1, afInet, 1 << 32, ^uint64(0)} {
				if _, err := Evaluate(prog, SeccompData{Nr: nr, Arch: arch, Args: [6]uint64{v, v, v, v, v, v}}); err != nil {
					t.Fatalf("%s: nr %d args %#x: %v", name, nr, v, err)
				}
			}
		}
	}
}

// retOf maps a Verdict to the SECCOMP_RET_* value the kernel gets for it.
func retOf(v Verdict) uint32 {
	switch v.Action {
	case specs.ActAllow:
		return retAllow
	case specs.ActErrno:
		return retErrno | uint32(v.Errno)
	case specs.ActKillProcess:
		return retKillProcess
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG
	case specs.ActNotify:
		return retNotify
	}
	return 0xffffffff
}

// probeArgs are argument vectors that cross every condition plugbox
// writes: socket families, clone kinds and namespace flags, the ioctl
// requests, personalities and open's write flags, with high bits set too.
func probeArgs(name string) [][6]uint64 {
	out := [][6]uint64{{}, {^uint64(0), ^uint64(0), ^uint64(0)}}
	a := func(i int, v uint64) [6]uint64 {
		var x [6]uint64
		x[i] = v
		return x
	}
	switch name {
	case "socket":
		for f := uint64(0); f < 48; f++ {
			out = append(out, a(0, f), a(0, f|1<<32))
		}
	case "clone":
		for _, base := range []uint64{0, 17, cloneThread, 0x3d0f00, 0x1200011} {
			out = append(out, a(0, base))
			for _, f := range cloneFlagNames {
				out = append(out, a(0, base|f.bit), a(0, base|f.bit|cloneNewNet))
			}
		}
	case "ioctl":
		for r := range ioctlNames {
			out = append(out, a(1, r), a(1, r|1<<32))
		}
		out = append(out, a(1, 0x8912))
	case "personality":
		for _, p := range []uint64{0, 8, 0x0400000, 0x0040000, personaQuery, 1 << 32} {
			out = append(out, a(0, p))
		}
	case "open", "openat":
		idx := 2
		if name == "open" {
			idx = 1
		}
		for _, f := range []uint64{0, 0x80000, 1, 2, 0x40, 0x200, 0x400, 0x400000, 0x241, 0x10000} {
			out = append(out, a(idx, f))
		}
	}
	return out
}

// TestDecideMatchesTheFilter: for every profile, every call plugbox knows
// and arguments across every condition, Decide says what the compiled BPF
// (libseccomp's filter behind the ENOSYS stub) answers. The monitor
// answers routed calls with Decide, and the per-call actions' argument
// rules and the permissive profiles' guards rely on libseccomp combining
// them as Decide reads them. For a routed profile, every call it notifies
// is one its source profile fails with an errno or (audit) logs, and every
// other call gets the source profile's answer.
func TestDecideMatchesTheFilter(t *testing.T) {
	col := nativeCol(t)
	arch, err := NativeAuditArch()
	if err != nil {
		t.Skip(err)
	}
	ps := profiles(t)
	progs := map[string][]unix.SockFilter{}
	for name, s := range ps {
		if progs[name], err = Program(s); err != nil {
			t.Fatal(err)
		}
	}
	deciders := map[string]*Decider{}
	for name, s := range ps {
		if deciders[name], err = NewDecider(s); err != nil {
			t.Fatal(err)
		}
	}
	for name := range ps {
		d := deciders[name]
		src := deciders[strings.TrimSuffix(name, "+enforce")]
		for call, nrs := range syscallTable() {
			nr := nrs[col]
			if nr < 0 {
				continue
			}
			for _, args := range probeArgs(call) {
				got, err := Evaluate(progs[name], SeccompData{Nr: int32(nr), Arch: arch, Args: args})
				if err != nil {
					t.Fatal(err)
				}
				if want := retOf(d.Decide(call, args)); got != want {
					t.Fatalf("%s: %s%#x: the filter answers %#x, Decide %#x", name, call, args[:3], got, want)
				}
				if !strings.HasSuffix(name, "+enforce") {
					continue
				}
				orig, _ := Evaluate(progs[strings.TrimSuffix(name, "+enforce")], SeccompData{Nr: int32(nr), Arch: arch, Args: args})
				v := src.Decide(call, args)
				switch {
				case got == retNotify:
					routedOK := v.Action == specs.ActErrno && v.Errno != errnoENOSYS || name == "audit+enforce" && v.Action == specs.ActLog
					if !routedOK {
						t.Fatalf("%s: %s%#x notifies, but its source answers %+v", name, call, args[:3], v)
					}
				case got != orig:
					t.Fatalf("%s: %s%#x: routed %#x, source %#x", name, call, args[:3], got, orig)
				}
			}
		}
	}
}
