package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

func TestMappedRoot(t *testing.T) {
	userns := configs.Namespaces{{Type: configs.NEWUSER}}
	for _, tc := range []struct {
		name     string
		config   configs.Config
		uid, gid int
		ok       bool
	}{
		{"no user namespace", configs.Config{UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}}, 0, 0, false},
		{"mapped", configs.Config{Namespaces: userns,
			UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 200000, Size: 65536}}}, 100000, 200000, true},
		{"root to root", configs.Config{Namespaces: userns, UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 0, Size: 65536}}}, 0, 0, false},
		{"root unmapped", configs.Config{Namespaces: userns, UIDMappings: []configs.IDMap{{ContainerID: 1000, HostID: 101000, Size: 1}}}, 0, 0, false},
	} {
		uid, gid, ok := mappedRoot(&tc.config)
		if uid != tc.uid || gid != tc.gid || ok != tc.ok {
			t.Errorf("%s: got %d, %d, %v; want %d, %d, %v", tc.name, uid, gid, ok, tc.uid, tc.gid, tc.ok)
		}
	}
}

func TestUnreachableAncestor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories to other owners")
	}
	top := t.TempDir()
	for _, d := range []string{filepath.Dir(top), top} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(p string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		p = filepath.Join(top, p)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := mk("private", 0o700, 0, 0)
	rootfs := mk("private/rootfs", 0o755, 0, 0)
	if got, err := unreachableAncestor(rootfs, 100000, 100000); err != nil || got != private {
		t.Errorf("below a 0700 directory of root: got %q, %v; want %q", got, err, private)
	}
	mk("owned", 0o700, 100000, 0)
	rootfs2 := mk("owned/rootfs", 0o755, 0, 0)
	if got, err := unreachableAncestor(rootfs2, 100000, 100000); err != nil || got != "" {
		t.Errorf("below a 0700 directory the mapped root owns: got %q, %v; want none", got, err)
	}
	group := mk("group", 0o710, 0, 100000)
	rootfs3 := mk("group/rootfs", 0o755, 0, 0)
	if got, err := unreachableAncestor(rootfs3, 100000, 100000); err != nil || got != "" {
		t.Errorf("below a 0710 directory of the mapped root's group: got %q, %v; want none", got, err)
	}
	if got, err := unreachableAncestor(rootfs3, 100000, 100001); err != nil || got != group {
		t.Errorf("below a 0710 directory of another group: got %q, %v; want %q", got, err, group)
	}
	mk("open", 0o755, 0, 0)
	shut := mk("open/rootfs", 0o700, 0, 0)
	if _, err := unreachableAncestor(shut, 100000, 100000); err == nil || !strings.Contains(err.Error(), "chmod 755 "+shut) {
		t.Errorf("a 0700 rootfs: got %v, want an error naming chmod 755 %s", err, shut)
	}
}

func TestRemoveStaleViews(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited (its pid is free for a while).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	live := strconv.Itoa(os.Getpid())
	for _, name := range []string{dead + ".1", live + ".2", "other", "x.3"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleViews(dir)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != live+".2 other x.3" {
		t.Errorf("left %v: want only the dead process's mount point removed", left)
	}
}
