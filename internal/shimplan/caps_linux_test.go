package shimplan

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/shim"
)

// clientProfile is a profile as podman or the OCI suite sends it: allow
// by default, a few calls denied.
func clientProfile(deny ...string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: append([]string{"mkdir"}, deny...), Action: specs.ActErrno}},
	}
}

func TestWithoutNoNewPrivsWidensLibcontainersCapsAndKeepsTheConfigured(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}}}
	sp, err := New(t.TempDir(), spec, clientProfile(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	const kill, nbs, admin, setpcap = 1 << unix.CAP_KILL, 1 << unix.CAP_NET_BIND_SERVICE, 1 << unix.CAP_SYS_ADMIN, 1 << unix.CAP_SETPCAP
	for _, tc := range []struct {
		name     string
		caps     *configs.Capabilities
		fallback *configs.Capabilities
		uid      int
		// libcontainer applies process.Capabilities widened by these.
		widened []string
		// the shim ends with these sets (nil: no CAPS record).
		target *shim.Caps
	}{
		{"the suite's: no CAP_SYS_ADMIN", &configs.Capabilities{
			Bounding: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_NET_BIND_SERVICE"}, Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_NO_SUCH"},
		}, nil, 0, []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
			&shim.Caps{Bounding: kill | nbs, Effective: kill, Permitted: kill, Ambient: nbs, Inheritable: nbs}},
		{"CAP_SYS_ADMIN already bounded: no CAP_SETPCAP", &configs.Capabilities{
			Bounding: []string{"CAP_SYS_ADMIN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		}, nil, 1000, []string{"CAP_SYS_ADMIN"},
			&shim.Caps{Bounding: admin | kill, Effective: kill, Permitted: kill}},
		{"exec without process.capabilities: the container's", nil, &configs.Capabilities{
			Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		}, 1000, []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
			&shim.Caps{Bounding: kill, Effective: kill, Permitted: kill}},
		{"root without capabilities: left alone", nil, nil, 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &libcontainer.Process{UID: tc.uid, Capabilities: tc.caps}
			got, err := sp.withoutNoNewPrivs(p, tc.fallback)
			if err != nil {
				t.Fatal(err)
			}
			if tc.target == nil {
				if got != nil || p.Capabilities != nil {
					t.Errorf("capabilities changed: record %+v, process %+v", got, p.Capabilities)
				}
				return
			}
			if *got != *tc.target {
				t.Errorf("the shim ends with %+v, want %+v", *got, *tc.target)
			}
			given := tc.caps
			if given == nil {
				given = tc.fallback
			}
			sets := map[string][2][]string{
				"bounding": {given.Bounding, p.Capabilities.Bounding}, "effective": {given.Effective, p.Capabilities.Effective},
				"permitted": {given.Permitted, p.Capabilities.Permitted}, "inheritable": {given.Inheritable, p.Capabilities.Inheritable},
				"ambient": {given.Ambient, p.Capabilities.Ambient},
			}
			for set, v := range sets {
				want := slices.Clone(v[0])
				for _, c := range tc.widened {
					if !slices.Contains(want, c) {
						want = append(want, c)
					}
				}
				if !slices.Equal(v[1], want) {
					t.Errorf("libcontainer's %s set %v, want %v", set, v[1], want)
				}
			}
		})
	}
}

func TestWithoutNoNewPrivsRefusesWhatTheShimCannotDo(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}}}
	caps := &configs.Capabilities{Bounding: []string{"CAP_KILL"}}
	sp, err := New(t.TempDir(), spec, clientProfile("capset"), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.CheckWithoutNoNewPrivs(caps, 0); err == nil || !strings.Contains(err.Error(), "capset(2)") {
		t.Errorf("a profile denying capset: %v, want a refusal naming capset(2)", err)
	}
	sp, err = New(t.TempDir(), spec, clientProfile(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.CheckWithoutNoNewPrivs(nil, 1000); err == nil || !strings.Contains(err.Error(), "process.user.uid 1000") || !strings.Contains(err.Error(), "noNewPrivileges") {
		t.Errorf("uid 1000 without capabilities: %v, want a refusal naming process.user.uid and noNewPrivileges", err)
	}
	if err := sp.CheckWithoutNoNewPrivs(caps, 1000); err != nil {
		t.Errorf("uid 1000 with capabilities: %v", err)
	}
}
