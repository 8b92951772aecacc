package plugbox

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgoDependencies: a host program importing this package builds with
// cgo enabled (the default) without linking libseccomp or libcontainer:
// no dependency outside the standard library has cgo files.
func TestNoCgoDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		if strings.Contains(f[0], "libseccomp") || strings.Contains(f[0], "libcontainer") {
			t.Errorf("package plugbox depends on %s", f[0])
		}
		if f[1] == "false" && f[2] != "0" {
			t.Errorf("dependency %s has cgo files: a host would need cgo and its C libraries", f[0])
		}
	}
}
