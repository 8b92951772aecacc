package monitor

import (
	"slices"
	"testing"
)

// TestCgroupsOf: the monitor joins the controllers that charge its work to
// the plugin, never pids, devices or freezer, each directory once; kills
// through cgroup v2 when there is one; and lists the container's processes
// from a cgroup it does not join.
func TestCgroupsOf(t *testing.T) {
	tests := []struct {
		name  string
		paths map[string]string
		want  Cgroups
	}{
		{"none", nil, Cgroups{}},
		{"v2 alone", map[string]string{"": "/sys/fs/cgroup/c"},
			Cgroups{Join: []string{"/sys/fs/cgroup/c"}, ProcsDir: "/sys/fs/cgroup/c"}},
		{"v1 with a v2 hierarchy beside it", map[string]string{
			"cpu": "/cg/cpu,cpuacct/c", "cpuacct": "/cg/cpu,cpuacct/c", "memory": "/cg/memory/c",
			"pids": "/cg/pids/c", "devices": "/cg/devices/c", "freezer": "/cg/freezer/c", "": "/cg/unified/c",
		}, Cgroups{Join: []string{"/cg/cpu,cpuacct/c", "/cg/memory/c"}, KillDir: "/cg/unified/c", ProcsDir: "/cg/devices/c"}},
		{"v1 without devices", map[string]string{"memory": "/cg/memory/c", "pids": "/cg/pids/c"},
			Cgroups{Join: []string{"/cg/memory/c"}, ProcsDir: "/cg/pids/c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CgroupsOf(tc.paths)
			if !slices.Equal(got.Join, tc.want.Join) || got.KillDir != tc.want.KillDir || got.ProcsDir != tc.want.ProcsDir {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestSpawnWithoutProcess: waiting for or closing a spawn whose process
// never started is harmless, and its socket ends are closed.
func TestSpawnWithoutProcess(t *testing.T) {
	m, err := NewListenerSpawn()
	if err != nil {
		t.Fatal(err)
	}
	if m.ShimEnd == nil || m.Process() != nil {
		t.Fatalf("spawn %+v: want a shim end and no process", m)
	}
	if err := m.Wait(); err != nil {
		t.Errorf("Wait without a process: %v", err)
	}
	shimEnd := m.ShimEnd
	m.ReleaseShimEnd()
	if m.ShimEnd != nil {
		t.Error("ReleaseShimEnd kept the end")
	}
	if _, err := shimEnd.Stat(); err == nil {
		t.Error("the shim end is still open")
	}
	m.Close()
}
