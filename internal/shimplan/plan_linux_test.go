package shimplan

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/seccompgen"
)

// without returns a copy of s in which no rule names name.
func without(s *specs.LinuxSeccomp, name string) *specs.LinuxSeccomp {
	out := *s
	out.Syscalls = nil
	for _, r := range s.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return n == name })
		if len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	return &out
}

func TestShimPlanRefusesAProfileTheShimCannotRunUnder(t *testing.T) {
	profile, err := seccompgen.Generate(seccompgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}}}
	if _, err := New(t.TempDir(), spec, without(profile, "execve"), nil, false); err == nil || !strings.Contains(err.Error(), "execve(2)") {
		t.Errorf("a profile without execve: %v, want a refusal naming execve(2)", err)
	}
	sp, err := New(t.TempDir(), spec, without(profile, "read"), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	nnp := true
	// Without a monitor the shim makes no read.
	if _, err := sp.Process(&libcontainer.Process{Args: []string{"/bin/true"}, NoNewPrivileges: &nnp}, nil, nil); err != nil {
		t.Errorf("a profile without read, no monitor: %v", err)
	}
	if _, err := sp.Process(&libcontainer.Process{Args: []string{"/bin/true"}, NoNewPrivileges: &nnp}, w, nil); err == nil || !strings.Contains(err.Error(), "read(2)") {
		t.Errorf("a profile without read, with the monitor: %v, want a refusal naming read(2)", err)
	}
}

func TestShimProcessExecsTheShimWithTheLimits(t *testing.T) {
	profile, err := seccompgen.Generate(seccompgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}}}
	sp, err := New(t.TempDir(), spec, profile, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	preserved, _ := os.Open(os.DevNull)
	defer preserved.Close()
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	nnp := true
	p := &libcontainer.Process{Args: []string{"/bin/true", "x"}, ExtraFiles: []*os.File{preserved}, NoNewPrivileges: &nnp,
		Rlimits: []configs.Rlimit{
			{Type: unix.RLIMIT_AS, Soft: 1 << 30, Hard: 1 << 30},
			{Type: unix.RLIMIT_NOFILE, Soft: 64, Hard: cur.Max + 1},
		}}
	opened, err := sp.Process(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	if got := strings.Join(p.Args, " "); got != "/proc/self/fd/4 5" {
		t.Errorf("process.args %q, want the shim at fd 4 (after the preserved fd 3) and its configuration at 5", got)
	}
	if len(p.ExtraFiles) != 3 || len(opened) != 2 {
		t.Errorf("%d extra files, %d opened: want the preserved one, the shim and its configuration", len(p.ExtraFiles), len(opened))
	}
	// libcontainer keeps only the raise of NOFILE's hard limit, at the
	// current soft limit; AS (a lowering) is the shim's alone.
	want := []configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Soft: cur.Cur, Hard: cur.Max + 1}}
	if !slices.Equal(p.Rlimits, want) {
		t.Errorf("libcontainer's rlimits %+v, want %+v", p.Rlimits, want)
	}
}
