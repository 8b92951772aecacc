package sandbox

import (
	"os"
	"testing"

	"github.com/opencontainers/cgroups"
)

// The warm-up writes this process into the cgroup it is in: its cgroups
// are the same afterwards, in every hierarchy.
func TestCgroupWarmupLeavesTheProcessWhereItIs(t *testing.T) {
	if os.Geteuid() != 0 || cgroups.IsCgroup2UnifiedMode() {
		t.Skip("the warm-up runs only as root on a cgroup v1 host")
	}
	if ownProcsFile() == "" {
		t.Skip("no pids hierarchy in /proc/self/cgroup")
	}
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ownProcsFile()); err != nil {
		t.Fatalf("the pids hierarchy is not at its usual mount point: %v", err)
	}
	warmCgroupLock()
	after, _ := os.ReadFile("/proc/self/cgroup")
	if string(before) != string(after) {
		t.Errorf("cgroups changed:\n%s\nbecame\n%s", before, after)
	}
}
