package jail

import (
	"encoding/binary"
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

// F16: library directories come from the jail's hints file and rtld's
// standard path (with /lib/casper), never from the config; "/" and
// directories that are not library directories are dropped.
func TestLibraryDirs(t *testing.T) {
	tests := []struct {
		interp string
		hints  []string
		want   []string
	}{
		{"/libexec/ld-elf.so.1", nil, []string{"/lib/casper", "/lib", "/usr/lib", "/usr/local/lib"}},
		{"/libexec/ld-elf.so.1", []string{"/lib", "/usr/lib", "/usr/local/lib", "/usr/local/lib/compat", "/usr/local/lib/perl5/5.36/mach/CORE"},
			[]string{"/lib", "/usr/lib", "/usr/local/lib", "/usr/local/lib/compat", "/usr/local/lib/perl5/5.36/mach/CORE", "/lib/casper"}},
		{"/libexec/ld-elf.so.1", []string{"/", "relative", "/etc", "/usr", "/usr/local/lib/"}, []string{"/usr/local/lib", "/lib/casper", "/lib", "/usr/lib"}},
		{"/libexec/ld-elf32.so.1", []string{"/usr/local/lib32/compat"}, []string{"/usr/local/lib32/compat", "/lib32", "/usr/lib32"}},
	}
	for _, tt := range tests {
		if got := LibraryDirs(tt.interp, tt.hints); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LibraryDirs(%s, %q) = %q, want %q", tt.interp, tt.hints, got, tt.want)
		}
	}
	if LibraryPathFDsVar("/libexec/ld-elf32.so.1") != "LD_32_LIBRARY_PATH_FDS" || LibraryPathFDsVar("/libexec/ld-elf.so.1") != "LD_LIBRARY_PATH_FDS" {
		t.Error("LibraryPathFDsVar")
	}
	if HintsFile("/libexec/ld-elf32.so.1") != "/var/run/ld-elf32.so.hints" || HintsFile("/libexec/ld-elf.so.1") != "/var/run/ld-elf.so.hints" {
		t.Error("HintsFile")
	}
}

// hintsFileBytes lays out an ld-elf.so.hints file as ldconfig writes it:
// struct elfhints_hdr (magic, version, strtab, strsize, dirlist,
// dirlistlen, spare[26]) then the string table holding the list.
func hintsFileBytes(order binary.ByteOrder, list string) []byte {
	hdr := make([]byte, 128)
	strtab := uint32(128)
	for i, v := range []uint32{0x746e6845, 1, strtab, uint32(len(list) + 1), 0, uint32(len(list))} {
		order.PutUint32(hdr[4*i:], v)
	}
	return append(append(hdr, list...), 0)
}

func TestParseHints(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		got, err := ParseHints(hintsFileBytes(order, "/lib:/usr/lib:/usr/local/lib"))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"/lib", "/usr/lib", "/usr/local/lib"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%v: %q, want %q", order, got, want)
		}
	}
	bad := hintsFileBytes(binary.LittleEndian, "/lib")
	binary.LittleEndian.PutUint32(bad[20:], 4096) // dirlistlen past the end
	for name, data := range map[string][]byte{
		"short":     make([]byte, 10),
		"magic":     make([]byte, 200),
		"past end":  bad,
		"version 2": func() []byte { b := hintsFileBytes(binary.LittleEndian, "/lib"); b[4] = 2; return b }(),
	} {
		if _, err := ParseHints(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
