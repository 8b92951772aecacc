package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestApplySeccomp replaces only linux.seccomp, and refuses a config.json
// it cannot decode without touching it.
func TestApplySeccomp(t *testing.T) {
	dir := t.TempDir()
	spec, err := Spec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec.Process.Args = []string{"/bin/plugin"}
	data, _ := json.Marshal(spec)
	path := filepath.Join(dir, ConfigName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	learned := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
	if err := ApplySeccomp(dir, learned); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	got, err := Decode(path, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Linux.Seccomp.Syscalls) != 1 || got.Linux.Seccomp.Syscalls[0].Names[0] != "read" {
		t.Errorf("seccomp %+v: want the learned profile", got.Linux.Seccomp)
	}
	if got.Process.Args[0] != "/bin/plugin" || len(got.Linux.Namespaces) != len(spec.Linux.Namespaces) || got.Annotations[AnnotationAuthored] != spec.Annotations[AnnotationAuthored] {
		t.Error("ApplySeccomp changed more than linux.seccomp")
	}

	bad := []byte("{not json")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ApplySeccomp(dir, learned); err == nil {
		t.Error("ApplySeccomp accepted a broken config.json")
	}
	if raw, _ := os.ReadFile(path); string(raw) != string(bad) {
		t.Error("a failed ApplySeccomp rewrote the file")
	}
}
