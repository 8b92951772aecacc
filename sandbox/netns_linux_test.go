package sandbox

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOnlyProfilesThatDenyEverySocketCallShareTheNetworkNamespace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile *specs.LinuxSeccomp
		want    bool
	}{
		{"no profile", nil, false},
		{"default allow", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, false},
		{"default deny, socket unnamed", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActAllow}}}, true},
		{"socket denied by name", &specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"socket", "bind"}, Action: specs.ActErrno}}}, true},
		{"socket allowed for one family", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}}}}, false},
		{"socketpair logged", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"socketpair"}, Action: specs.ActLog}}}, false},
		{"io_uring notified", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"io_uring_setup"}, Action: specs.ActNotify}}}, false},
	} {
		if got := deniesSockets(tc.profile); got != tc.want {
			t.Errorf("%s: deniesSockets = %v, want %v", tc.name, got, tc.want)
		}
	}
}
