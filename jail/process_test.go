package jail

import (
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRlimits(t *testing.T) {
	got, err := Rlimits([]specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 64, Hard: 128},
		{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 1 << 30},
		{Type: "RLIMIT_CORE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Rlimit{{8, 64, 128}, {10, 1 << 30, 1 << 30}, {4, 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Rlimits = %v, want %v", got, want)
	}
	for _, tt := range []struct {
		rl   []specs.POSIXRlimit
		want string
	}{
		{[]specs.POSIXRlimit{{Type: "RLIMIT_NICE", Soft: 1, Hard: 1}}, `process.rlimits[0].type: "RLIMIT_NICE" does not exist on FreeBSD`},
		{[]specs.POSIXRlimit{{Type: "RLIMIT_CPU", Soft: 2, Hard: 1}}, "process.rlimits[0]: soft limit 2 is above hard limit 1"},
		{[]specs.POSIXRlimit{{Type: "RLIMIT_AS"}, {Type: "RLIMIT_VMEM"}}, "process.rlimits[1].type: RLIMIT_VMEM is set twice"},
	} {
		if _, err := Rlimits(tt.rl); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Rlimits(%v) = %v, want %q", tt.rl, err, tt.want)
		}
	}
}

func TestLookPath(t *testing.T) {
	files := map[string]bool{"/usr/bin/plugin": true, "/app/run": true, "/bin/sh": true}
	exists := func(p string) bool { return files[p] }
	env := []string{"HOME=/", "PATH=/bin:/usr/bin"}
	for _, tt := range []struct {
		name, cwd, want string
		env             []string
	}{
		{"plugin", "/", "/usr/bin/plugin", env},
		{"sh", "/", "/bin/sh", env},
		{"/app/run", "/", "/app/run", env},
		{"./run", "/app", "/app/run", env},
		{"run", "/app", "/app/run", []string{"PATH=bin:."}},
		{"plugin", "/", "/usr/bin/plugin", nil},
	} {
		got, err := LookPath(tt.name, tt.env, tt.cwd, exists)
		if err != nil || got != tt.want {
			t.Errorf("LookPath(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	for _, name := range []string{"", "missing", "/app/missing", "./missing"} {
		if _, err := LookPath(name, env, "/", exists); err == nil || !strings.Contains(err.Error(), "process.args[0]") {
			t.Errorf("LookPath(%q) = %v, want a process.args[0] error", name, err)
		}
	}
}

func TestEnvHelpers(t *testing.T) {
	env := []string{"A=1", "PATH=/x", "A=2", "NOEQ"}
	if v, ok := Getenv(env, "A"); !ok || v != "2" {
		t.Errorf("Getenv(A) = %q %v", v, ok)
	}
	if _, ok := Getenv(env, "NOEQ"); ok {
		t.Error("Getenv found an entry without '='")
	}
	got := SetEnv(env, "A", "3")
	if want := []string{"PATH=/x", "NOEQ", "A=3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SetEnv = %q, want %q", got, want)
	}
	dirs := LibraryDirs([]string{"LD_LIBRARY_PATH=/opt/lib::relative:/lib/"})
	if want := []string{"/opt/lib", "/lib", "/usr/lib", "/usr/local/lib"}; !reflect.DeepEqual(dirs, want) {
		t.Errorf("LibraryDirs = %q, want %q", dirs, want)
	}
	argv := RtldArgv("/libexec/ld-elf.so.1", 7, []string{"plugin", "-v"})
	if want := []string{"ld-elf.so.1", "-f", "7", "--", "plugin", "-v"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("RtldArgv = %q, want %q", argv, want)
	}
}

func TestInterpreter(t *testing.T) {
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		interp, err := Interpreter(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if interp == "" {
			t.Skipf("%s is statically linked here", p)
		}
		if !strings.HasPrefix(interp, "/") || strings.ContainsRune(interp, 0) {
			t.Errorf("%s: interpreter %q", p, interp)
		}
		return
	}
	t.Skip("no dynamically linked system binary to inspect")
}

func TestInterpreterRejectsNonELF(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "script")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("#!/bin/sh\necho hi\n")
	if _, err := Interpreter(f); err == nil {
		t.Error("a shell script was accepted as ELF")
	}
	f.Close()
}

func TestLinuxOnlyLayers(t *testing.T) {
	if got := LinuxOnlyLayers(nil); got != nil {
		t.Errorf("nil spec: %v", got)
	}
	s := &specs.Spec{
		Linux:   &specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}},
		Process: &specs.Process{ApparmorProfile: "p", SelinuxLabel: "l"},
	}
	if got, want := LinuxOnlyLayers(s), []string{"linux.seccomp", "process.apparmorProfile", "process.selinuxLabel"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LinuxOnlyLayers = %v, want %v", got, want)
	}
	if got := LinuxOnlyLayers(&specs.Spec{Linux: &specs.Linux{}, Process: &specs.Process{}}); got != nil {
		t.Errorf("no layers: %v", got)
	}
}
