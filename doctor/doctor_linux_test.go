package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost points the probes at a directory tree of the test's own and
// writes files into it.
func fakeHost(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved := []string{procDir, sysDir, etcDir}
	procDir, sysDir, etcDir = filepath.Join(dir, "proc"), filepath.Join(dir, "sys"), filepath.Join(dir, "etc")
	t.Cleanup(func() { procDir, sysDir, etcDir = saved[0], saved[1], saved[2] })
}

func TestCheckSeccomp(t *testing.T) {
	fakeHost(t, map[string]string{"proc/sys/kernel/seccomp/actions_avail": "kill_process kill_thread trap errno user_notif trace log allow\n"})
	if c := checkSeccomp(); c.Status != OK {
		t.Errorf("seccomp: %+v", c)
	}
	if c := checkUserNotif(Options{}); c.Status != OK {
		t.Errorf("user notification: %+v", c)
	}
	if c := checkUserNotif(Options{Simulate: []string{SimulateNoUserNotif}}); c.Status != Missing || !strings.Contains(c.Fix, "onViolation") {
		t.Errorf("simulated without user notification: %+v", c)
	}
	fakeHost(t, map[string]string{"proc/sys/kernel/seccomp/actions_avail": "kill_thread trap errno trace allow\n"})
	if c := checkSeccomp(); c.Status != Missing || !strings.Contains(c.Fix, "4.14") {
		t.Errorf("no kill_process: %+v", c)
	}
	if c := checkUserNotif(Options{}); c.Status != Missing {
		t.Errorf("no user_notif: %+v", c)
	}
	fakeHost(t, nil)
	if c := checkSeccomp(); c.Status != Missing || !strings.Contains(c.Fix, "CONFIG_SECCOMP_FILTER") {
		t.Errorf("no seccomp: %+v", c)
	}
}

func TestCheckLandlockSimulated(t *testing.T) {
	fakeHost(t, map[string]string{"sys/kernel/security/lsm": "lockdown,capability,yama\n"})
	c := checkLandlock(Options{Simulate: []string{SimulateNoLandlock}})
	if c.Status != Missing || !strings.Contains(c.Found, "lockdown,capability,yama") || !strings.Contains(c.Fix, "lsm=") || !strings.Contains(c.Fix, "bestEffort") {
		t.Errorf("simulated without Landlock: %+v", c)
	}
}

func TestCgroupControllers(t *testing.T) {
	fakeHost(t, map[string]string{"proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t1\t1\t1\nmemory\t4\t1\t1\npids\t0\t1\t1\nblkio\t7\t1\t0\n"})
	got := cgroupControllers("v1")
	if !got["cpu"] || !got["memory"] || got["pids"] || got["blkio"] {
		t.Errorf("v1 controllers %v: want cpu, memory and cpuset only (pids unmounted, blkio disabled)", got)
	}
	fakeHost(t, map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n"})
	if got := cgroupControllers("v2"); !got["pids"] || !got["memory"] || !got["cpu"] {
		t.Errorf("v2 controllers %v", got)
	}
}

func TestCheckSubIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("root's sandbox id pool is checked only as root")
	}
	fakeHost(t, map[string]string{"etc/subuid": "alice:165536:65536\n", "etc/subgid": "alice:165536:65536\n"})
	if c := checkSubIDs(); c.Status != OK || !strings.Contains(c.Found, "default pool") || !strings.Contains(c.Found, "room for 4094 sandboxes") {
		t.Errorf("default pool: %+v", c)
	}
	fakeHost(t, map[string]string{
		"etc/subuid": "plugbox:2000000000:200000\nbob:2000065536:1\n",
		"etc/subgid": "plugbox:2000000000:200000\n",
		"etc/passwd": "carol:x:2000000001:100::/:/bin/sh\n",
	})
	c := checkSubIDs()
	// carol's account and bob's id split the 200000 uids so that only two
	// whole ranges of 65536 are left (gids have three).
	if c.Status != OK || !strings.Contains(c.Found, "the plugbox entries") || !strings.Contains(c.Found, "room for 2 sandboxes") {
		t.Errorf("plugbox entries: %+v", c)
	}
	fakeHost(t, map[string]string{"etc/subuid": "plugbox:2000000000:1000\n"})
	if c := checkSubIDs(); c.Status != Missing || !strings.Contains(c.Fix, "plugbox:") {
		t.Errorf("a pool too small: %+v", c)
	}
	fakeHost(t, map[string]string{"etc/subuid": "broken line\n"})
	if c := checkSubIDs(); c.Status != Missing || !strings.Contains(c.Found, "OWNER:START:COUNT") {
		t.Errorf("bad syntax: %+v", c)
	}
}

func TestCheckSpecStoreBypass(t *testing.T) {
	for mode, want := range map[string]string{
		"Mitigation: Speculative Store Bypass disabled via prctl and seccomp": "seccompSpecAllow",
		"Mitigation: Speculative Store Bypass disabled via prctl":             "leave it as it is",
		"Not affected": "nothing to choose",
		"Vulnerable":   "spec_store_bypass_disable",
	} {
		fakeHost(t, map[string]string{"sys/devices/system/cpu/vulnerabilities/spec_store_bypass": mode + "\n"})
		c := checkSpecStoreBypass()
		if !strings.Contains(c.Found+c.Fix, want) || !strings.HasPrefix(c.Found, mode) {
			t.Errorf("%s: %+v, want %q", mode, c, want)
		}
	}
}

func TestCheckOverlay(t *testing.T) {
	fakeHost(t, map[string]string{"proc/filesystems": "nodev\tsysfs\nnodev\toverlay\n"})
	if c := checkOverlay(); c.Status != OK {
		t.Errorf("overlay: %+v", c)
	}
	fakeHost(t, map[string]string{"proc/filesystems": "nodev\tsysfs\n"})
	if c := checkOverlay(); c.Status != Warn || !strings.Contains(c.Fix, "modprobe overlay") {
		t.Errorf("no overlay: %+v", c)
	}
}

// On this host, as the tests run, the default layers are there.
func TestRunOnThisHost(t *testing.T) {
	r := Run(Options{StateRoot: filepath.Join(t.TempDir(), "root")})
	names := map[string]bool{}
	for _, c := range r.Checks {
		names[c.Name] = true
		if c.Status == Missing {
			t.Logf("this host lacks %s: %s; fix: %s", c.Name, c.Found, c.Fix)
		}
		if (c.Status == Missing || c.Status == Warn) && c.Fix == "" {
			t.Errorf("%s is %s without a fix", c.Name, c.Status)
		}
	}
	for _, want := range []string{"seccomp", "seccomp monitor", "libseccomp", "landlock", "exec shim", "cgroups", "rootless cgroups", "/etc/subuid", "overlayfs", "spec_store_bypass", "state root"} {
		if !names[want] {
			t.Errorf("no %s check", want)
		}
	}
	sim := Run(Options{StateRoot: t.TempDir(), Simulate: []string{SimulateNoLandlock}})
	if !sim.Failed() {
		t.Error("a host without Landlock passes")
	}
}
