package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAssembledRuns chroots into assembled rootfses and runs the programs,
// proving the loader finds everything without the host's files.
func TestAssembledRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	for _, tc := range []struct {
		exe  string
		args []string
		want string
	}{
		{"/usr/bin/jq", []string{"/bin/jq", "-n", "1+2"}, "3"},
		{"/bin/busybox", []string{"/bin/busybox", "echo", "hi"}, "hi"},
	} {
		if _, err := os.Stat(tc.exe); err != nil {
			t.Logf("skip %s: %v", tc.exe, err)
			continue
		}
		rootfs := filepath.Join(t.TempDir(), "rootfs")
		if err := AssembleRootfs(rootfs, tc.exe); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tc.args[0], tc.args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%s in chroot: %q, %v; want %q", tc.exe, out, err, tc.want)
		}
	}
}
