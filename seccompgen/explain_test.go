package seccompgen

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExplain(t *testing.T) {
	s, err := Generate(Options{Groups: []string{"net-client", "fs-read"}, Network: NetworkLoopback, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	learning, _ := LearningProfile("amd64")
	pol, err := ParsePolicy("log", map[string]string{"ptrace": "kill", "getpriority": "trap", "fork": "kill-thread", "mount": "errno:EACCES"})
	if err != nil {
		t.Fatal(err)
	}
	actions, err := Generate(Options{Violations: pol, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	auditPol, _ := ParsePolicy("audit", nil)
	audit, _ := Generate(Options{Violations: auditPol, Arch: "amd64"})
	for mon, want := range map[string]string{
		"audit": `audited: it runs, and plugbox's monitor logs an "audited" line`,
		"":      "allowed and logged by the kernel",
	} {
		if got, _ := Explain(audit, "setpriority", mon); !strings.Contains(got, want) {
			t.Errorf("Explain(audit profile, monitor %q) = %q, want %q", mon, got, want)
		}
	}
	if got, _ := Explain(s, "fork", "violations"); !strings.Contains(got, `plugbox's monitor answers it and logs a "denied" line`) {
		t.Errorf("Explain(fork, violations) = %q", got)
	}
	// A profile that names little, so the stub decides newer calls.
	small := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "clone3"}, Action: specs.ActAllow}},
	}
	tests := []struct {
		s       *specs.LinuxSeccomp
		syscall string
		want    []string
	}{
		{s, "read", []string{"read (SCMP_ARCH_X86_64 #0): allowed, any arguments", "groups that grant it: base"}},
		{s, "socket", []string{"decided by its arguments", "arg0 == 0x1 (AF_UNIX)", "arg0 == 0x2 (AF_INET)", "arg0 == 0xa (AF_INET6)", "otherwise: denied with EPERM: the call fails (-1, errno EPERM); not logged (no plugbox monitor) (the default action)"}},
		{s, "clone", []string{"arg0 & 0x7e030000 == 0x10000 (a thread"}},
		{s, "openat", []string{"arg2 & 0x400643 == 0x0 (read-only"}},
		{s, "ioctl", []string{"(TIOCGWINSZ)"}},
		{s, "ptrace", []string{"denied with EPERM", "DeniedAlways"}},
		{s, "fork", []string{"denied with EPERM", "groups that grant it: process"}},
		{s, "clone3", []string{"answered ENOSYS, as if the kernel lacked it (libc falls back); not logged, any arguments"}},
		{s, "open", []string{"arg1 & 0x400643"}},
		{small, "mseal", []string{"ENOSYS: not named, and newer than the highest syscall the profile names (#435)"}},
		{small, "getpid", []string{"denied with EPERM: the call fails (-1, errno EPERM); not logged (no plugbox monitor) (not named: the default action)"}},
		{learning, "fork", []string{"sent to the listener, which records it and lets it run"}},
		{Route(s, false), "socket", []string{"arg0 == 0x1 (AF_UNIX)", "otherwise: sent to plugbox's monitor, which answers what the profile it was routed from decides"}},
		{actions, "ptrace", []string{"kills the whole plugin (SCMP_ACT_KILL_PROCESS)"}},
		{actions, "getpriority", []string{"trapped (SCMP_ACT_TRAP)", "si_syscall"}},
		{actions, "fork", []string{"kills the calling thread only"}},
		{actions, "mount", []string{"denied with EACCES: the call fails (-1, errno EACCES); not logged (no plugbox monitor)"}},
		{actions, "getpid", []string{"allowed"}},
		{actions, "setpriority", []string{"allowed and logged by the kernel (SCMP_ACT_LOG"}},
	}
	for _, tt := range tests {
		got, err := Explain(tt.s, tt.syscall, "")
		if err != nil {
			t.Errorf("Explain(%s): %v", tt.syscall, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Explain(%s) = %q\nwant it to contain %q", tt.syscall, got, w)
			}
		}
	}
	arm, _ := Generate(Options{Arch: "arm64"})
	if got, _ := Explain(arm, "open", ""); !strings.Contains(got, "does not exist on SCMP_ARCH_AARCH64") {
		t.Errorf("Explain(arm64, open) = %q", got)
	}
	if _, err := Explain(s, "nosuchcall", ""); err == nil {
		t.Error("Explain of an unknown name: no error")
	}
	if _, err := Explain(nil, "read", ""); err == nil {
		t.Error("Explain(nil): no error")
	}
}

func ExampleExplain() {
	s, _ := Generate(Options{Groups: []string{"net-client"}, Arch: "amd64"})
	out, _ := Explain(s, "socket", "violations")
	fmt.Println(out)
	// Output:
	// socket (SCMP_ARCH_X86_64 #41): decided by its arguments:
	//   rule 123: allowed when arg0 == 0x1 (AF_UNIX)
	//   otherwise: denied with EPERM: the call fails (-1, errno EPERM); plugbox's monitor answers it and logs a "denied" line (the default action)
	// argument-filtered: use group "net-client" or "net-server" and set Network
	// groups that grant it: net-client, net-server
}
