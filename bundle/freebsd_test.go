package bundle

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFreeBSDSpecDefault(t *testing.T) {
	s, err := FreeBSDSpec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux != nil {
		t.Error("a FreeBSD bundle has a linux section")
	}
	j := s.FreeBSD.Jail
	if j.Host != "new" || j.Ip4 != "disable" || j.Ip6 != "disable" || j.Vnet != "" || j.SysVMsg != "new" || j.SysVSem != "new" || j.SysVShm != "new" || *j.EnforceStatfs != 2 {
		t.Errorf("jail = %+v", j)
	}
	if j.Allow == nil || !reflect.DeepEqual(*j.Allow, specs.FreeBSDJailAllow{}) {
		t.Errorf("allow = %+v, want all off", j.Allow)
	}
	if !s.Root.Readonly || !s.Process.NoNewPrivileges || s.Process.Terminal {
		t.Errorf("root %+v nnp %v terminal %v", s.Root, s.Process.NoNewPrivileges, s.Process.Terminal)
	}
	if s.Process.User.UID != DefaultUID || s.Process.User.GID != DefaultGID {
		t.Errorf("user %+v", s.Process.User)
	}
	a := s.Annotations
	if a[AnnotationCapsicum] != "true" || a[AnnotationMonitor] != "violations" || a[AnnotationTrapCap] != "" {
		t.Errorf("annotations %v", a)
	}
	// The limits, as rctl rules: 256M, 64 processes, 1 CPU, 256 fds × 64.
	if want := "memoryuse:deny=268435456,maxproc:deny=64,pcpu:deny=100,openfiles:deny=16384"; a[AnnotationRctl] != want {
		t.Errorf("rctl %q, want %q", a[AnnotationRctl], want)
	}
	var types []string
	for _, m := range s.Mounts {
		types = append(types, m.Destination+":"+m.Type+":"+strings.Join(m.Options, ","))
	}
	if want := []string{"/dev:devfs:ruleset=4", "/tmp:tmpfs:nosuid,noexec,mode=1777,size=67108864"}; !reflect.DeepEqual(types, want) {
		t.Errorf("mounts %q, want %q", types, want)
	}
	o, err := ParseFreeBSDOptions(a)
	if err != nil || !o.Capsicum || o.Rctl != a[AnnotationRctl] {
		t.Errorf("ParseFreeBSDOptions = %+v, %v", o, err)
	}
}

func TestFreeBSDSpecManifest(t *testing.T) {
	dir := t.TempDir()
	m := DefaultManifest()
	m.Read = []string{dir}
	m.Network = NetworkHost
	m.Syscalls = append(m.Syscalls, "net-client")
	m.OnViolation = ViolationKill
	m.Limits.CPUs = 0.5
	s, err := FreeBSDSpec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Paths or network: capability mode would forbid them, so no Capsicum.
	if _, ok := s.Annotations[AnnotationCapsicum]; ok {
		t.Error("Capsicum on for a plugin that reads paths")
	}
	if s.FreeBSD.Jail.Ip4 != "inherit" || s.FreeBSD.Jail.Ip6 != "inherit" {
		t.Errorf("network host: %+v", s.FreeBSD.Jail)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Type != "nullfs" || last.Source != dir || !reflect.DeepEqual(last.Options, []string{"ro", "nosuid"}) {
		t.Errorf("read bind %+v", last)
	}
	if !strings.Contains(s.Annotations[AnnotationRctl], "pcpu:deny=50") {
		t.Errorf("rctl %q", s.Annotations[AnnotationRctl])
	}
	kill := DefaultManifest()
	kill.OnViolation = ViolationKill
	if s, _ := FreeBSDSpec(kill, SpecOptions{}); s.Annotations[AnnotationTrapCap] != "true" || s.Annotations[AnnotationMonitor] != "" {
		t.Errorf("onViolation kill: %v", s.Annotations)
	}
	for _, m := range []*Manifest{{OnViolation: ViolationTrap}, {SyscallActions: map[string]string{"ptrace": "kill"}}} {
		full := DefaultManifest()
		full.OnViolation, full.SyscallActions = m.OnViolation, m.SyscallActions
		if _, err := FreeBSDSpec(full, SpecOptions{}); err == nil || !strings.Contains(err.Error(), "Linux seccomp actions") {
			t.Errorf("onViolation %q, syscallActions %v on FreeBSD: %v", m.OnViolation, m.SyscallActions, err)
		}
	}
	lo := DefaultManifest()
	lo.Network = NetworkLoopback
	lo.Syscalls = append(lo.Syscalls, "net-client")
	if _, err := FreeBSDSpec(lo, SpecOptions{}); err == nil || !strings.Contains(err.Error(), `network "loopback" is not supported on FreeBSD`) {
		t.Errorf("loopback: %v", err)
	}
	if _, err := FreeBSDSpec(DefaultManifest(), SpecOptions{Rootless: true, HostUID: 1000, HostGID: 1000}); err == nil {
		t.Error("rootless FreeBSD spec accepted")
	}
}

func TestParseFreeBSDOptions(t *testing.T) {
	o, err := ParseFreeBSDOptions(map[string]string{AnnotationCapsicum: "true", AnnotationTrapCap: "true", AnnotationChildrenMax: "3", AnnotationSecurelevel: "1", AnnotationRctl: "maxproc:deny=5"})
	if err != nil || !o.Capsicum || !o.TrapCap || o.ChildrenMax != 3 || *o.Securelevel != 1 || o.Rctl != "maxproc:deny=5" {
		t.Errorf("%+v %v", o, err)
	}
	for _, a := range []map[string]string{
		{AnnotationCapsicum: "yes"},
		{AnnotationTrapCap: "true"},
		{AnnotationChildrenMax: "-1"},
		{AnnotationSecurelevel: "high"},
	} {
		if _, err := ParseFreeBSDOptions(a); err == nil || !strings.Contains(err.Error(), "annotations[") {
			t.Errorf("%v: %v", a, err)
		}
	}
}

// F13: plugbox spec's FreeBSD config must be one the backend accepts, so
// it has no terminal.
func TestFreeBSDStarterSpec(t *testing.T) {
	s := FreeBSDStarterSpec()
	if s.Process.Terminal {
		t.Error("starter spec asks for a terminal, which the FreeBSD backend refuses")
	}
	if s.Process.Cwd != "/" || s.Mounts[0].Type != "devfs" {
		t.Errorf("%+v", s)
	}
}

func TestInitFreeBSD(t *testing.T) {
	// A Linux executable is refused: the bundle could never run.
	dir := t.TempDir()
	if err := InitFreeBSD(dir, "/bin/true", nil, InitOptions{}); err == nil || !strings.Contains(err.Error(), "is not a FreeBSD executable") {
		t.Fatalf("Linux ELF: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs")); err == nil {
		t.Error("rootfs written for a refused executable")
	}
	// The same file branded FreeBSD (EI_OSABI, byte 7, = 9) is accepted;
	// its libraries are looked up as on any host.
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	data[7] = 9
	exe := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := InitFreeBSD(dir, exe, nil, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.FreeBSD == nil || s.FreeBSD.Jail == nil || s.Annotations[AnnotationCapsicum] != "true" || s.Process.Args[0] != "/bin/tool" {
		t.Errorf("config %s", raw)
	}
	if fi, err := os.Stat(filepath.Join(dir, "rootfs", "bin", "tool")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("executable not installed: %v", err)
	}
	if err := InitFreeBSD(dir, exe, nil, InitOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second init: %v", err)
	}
}
