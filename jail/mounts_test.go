package jail

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPlanMounts(t *testing.T) {
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/dev", Type: "devfs", Source: "devfs"},
			{Destination: "/data", Type: "nullfs", Source: "/srv/data", Options: []string{"ro", "nosuid", "noexec"}},
			{Destination: "/conf", Type: "bind", Source: "conf", Options: []string{"rbind", "rprivate"}},
			{Destination: "/opt", Source: "/opt", Options: []string{"bind", "nodev", "noatime"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64m", "mode=1777", "nosuid"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev/fd", Type: "fdescfs", Source: "fdesc"},
			{Destination: "/dev2", Type: "devfs", Options: []string{"ruleset=5"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup2"},
		},
	}
	plan, skipped, err := PlanMounts("/b/rootfs", "/b", spec)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Index                  int
		FSType, Source, Target string
		Flags                  MountFlags
		Opts                   []string
	}
	var got []row
	for _, m := range plan {
		var opts []string
		for _, p := range m.NmountParams() {
			opts = append(opts, p.String())
		}
		got = append(got, row{m.Index, m.FSType, m.Source, m.Target, m.Flags, opts})
	}
	want := []row{
		{-1, "nullfs", "/b/rootfs", "/b/rootfs", MountFlags{ReadOnly: true}, []string{`fstype="nullfs"`, `fspath="/b/rootfs"`, `target="/b/rootfs"`}},
		{0, "devfs", "", "/b/rootfs/dev", MountFlags{}, []string{`fstype="devfs"`, `fspath="/b/rootfs/dev"`, `from="devfs"`, `ruleset="4"`}},
		{1, "nullfs", "/srv/data", "/b/rootfs/data", MountFlags{ReadOnly: true, NoSuid: true, NoExec: true}, []string{`fstype="nullfs"`, `fspath="/b/rootfs/data"`, `target="/srv/data"`}},
		{2, "nullfs", "/b/conf", "/b/rootfs/conf", MountFlags{}, []string{`fstype="nullfs"`, `fspath="/b/rootfs/conf"`, `target="/b/conf"`}},
		{3, "nullfs", "/opt", "/b/rootfs/opt", MountFlags{NoAtime: true}, []string{`fstype="nullfs"`, `fspath="/b/rootfs/opt"`, `target="/opt"`}},
		{4, "tmpfs", "", "/b/rootfs/tmp", MountFlags{NoSuid: true}, []string{`fstype="tmpfs"`, `fspath="/b/rootfs/tmp"`, `from="tmpfs"`, `size="64m"`, `mode="1777"`}},
		{6, "procfs", "", "/b/rootfs/proc", MountFlags{}, []string{`fstype="procfs"`, `fspath="/b/rootfs/proc"`, `from="procfs"`}},
		{7, "fdescfs", "", "/b/rootfs/dev/fd", MountFlags{}, []string{`fstype="fdescfs"`, `fspath="/b/rootfs/dev/fd"`, `from="fdescfs"`}},
		{8, "devfs", "", "/b/rootfs/dev2", MountFlags{}, []string{`fstype="devfs"`, `fspath="/b/rootfs/dev2"`, `from="devfs"`, `ruleset="5"`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %+v\nwant %+v", got, want)
	}
	wantSkipped := []string{"mounts[5] (sysfs on /sys)", "mounts[9] (cgroup2 on /sys/fs/cgroup)"}
	if !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("skipped = %q, want %q", skipped, wantSkipped)
	}
}

func TestPlanMountsErrors(t *testing.T) {
	tests := []struct {
		name string
		m    specs.Mount
		want string
	}{
		{"relative destination", specs.Mount{Destination: "data", Type: "tmpfs"}, `mounts[0].destination: "data" must be an absolute path`},
		{"root destination", specs.Mount{Destination: "/", Type: "tmpfs"}, "mounts[0].destination: mounting over / is not supported"},
		{"unknown type", specs.Mount{Destination: "/x", Type: "ext4", Source: "/dev/ada0"}, `mounts[0].type: "ext4" is not supported on FreeBSD`},
		{"bind without source", specs.Mount{Destination: "/x", Type: "nullfs"}, "mounts[0].source: a bind (nullfs) mount needs the host path"},
		{"unknown option", specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"uid=0", "huge=always"}}, `mounts[0].options[1]: "huge=always" is not supported for tmpfs`},
		{"ruleset on tmpfs", specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"ruleset=4"}}, `mounts[0].options[0]: "ruleset=4" is not supported for tmpfs`},
		{"bad ruleset", specs.Mount{Destination: "/dev", Type: "devfs", Options: []string{"ruleset=x"}}, `mounts[0].options[0]: "ruleset=x": the devfs ruleset must be a number 1..65535`},
		// F9: ruleset 0 is "no ruleset" and would expose every host device.
		{"ruleset 0", specs.Mount{Destination: "/dev", Type: "devfs", Options: []string{"ruleset=0"}}, `(0 hides nothing)`},
		{"ruleset too big", specs.Mount{Destination: "/dev", Type: "devfs", Options: []string{"ruleset=70000"}}, `the devfs ruleset must be a number`},
		{"empty tmpfs size", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"size="}}, `mounts[0].options[0]: "size=" needs a value`},
		{"size on nullfs", specs.Mount{Destination: "/t", Type: "nullfs", Source: "/s", Options: []string{"size=1m"}}, `"size=1m" is not supported for nullfs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := PlanMounts("/r", "/b", &specs.Spec{Mounts: []specs.Mount{tt.m}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestResolveInRootAndPrepare(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc", "hosts"), nil, 0o644))
	must(os.Symlink(outside, filepath.Join(root, "escape")))
	must(os.Symlink("/etc", filepath.Join(root, "etc", "link")))

	for _, tt := range []struct {
		dest string
		file bool
		want string // "" means allowed
	}{
		{"/etc", false, ""},
		{"/new/deep/dir", false, ""},
		{"/etc/hosts", true, ""},
		{"/etc/hosts", false, "is not a directory"},
		{"/etc", true, "is a directory"},
		{"/escape", false, "is a symbolic link"},
		{"/escape/sub", false, "is a symbolic link"},
		{"/etc/link/x", false, "is a symbolic link"},
		{"/etc/hosts/x", false, "is not a directory"},
	} {
		err := ResolveInRoot(root, tt.dest, tt.file)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ResolveInRoot(%s, file=%v): %v", tt.dest, tt.file, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ResolveInRoot(%s, file=%v) = %v, want error containing %q", tt.dest, tt.file, err, tt.want)
		}
	}

	src := filepath.Join(outside, "secret.txt")
	must(os.WriteFile(src, []byte("x"), 0o600))
	fileMount := Mount{Index: 2, FSType: "nullfs", Source: src, Dest: "/run/secret.txt", Target: filepath.Join(root, "run", "secret.txt")}
	must(fileMount.Prepare(root))
	if fi, err := os.Stat(fileMount.Target); err != nil || !fi.Mode().IsRegular() || !fileMount.File {
		t.Errorf("file mount point: %v %v file=%v", fi, err, fileMount.File)
	}
	dirMount := Mount{Index: 3, FSType: "tmpfs", Dest: "/var/tmp", Target: filepath.Join(root, "var", "tmp")}
	must(dirMount.Prepare(root))
	if fi, err := os.Stat(dirMount.Target); err != nil || !fi.IsDir() {
		t.Errorf("dir mount point: %v %v", fi, err)
	}
	bad := Mount{Index: 4, FSType: "tmpfs", Dest: "/escape/x", Target: filepath.Join(root, "escape", "x")}
	if err := bad.Prepare(root); err == nil || !strings.Contains(err.Error(), "mounts[4].destination") {
		t.Errorf("Prepare through a symlink: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("Prepare created a directory outside the root")
	}
	missing := Mount{Index: 5, FSType: "nullfs", Source: filepath.Join(outside, "nope"), Dest: "/n", Target: filepath.Join(root, "n")}
	if err := missing.Prepare(root); err == nil || !strings.Contains(err.Error(), "mounts[5].source") {
		t.Errorf("Prepare with a missing source: %v", err)
	}
}

// F12: nullfs binds only directories and regular files, and a file only
// onto a regular file with one link (vfs_domount_first: va_nlink != 1 is
// EINVAL), which base.txz's hard-linked /bin/[ and /bin/test are not.
func TestPrepareFileMountRules(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "test"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "bin", "test"), filepath.Join(root, "bin", "[")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(outside, "tool")
	if err := os.WriteFile(src, []byte("y"), 0o755); err != nil {
		t.Fatal(err)
	}
	onLinked := Mount{Index: 1, FSType: "nullfs", Source: src, Dest: "/bin/test", Target: filepath.Join(root, "bin", "test")}
	if err := onLinked.Prepare(root); err == nil || !strings.Contains(err.Error(), "has 2 hard links") {
		t.Errorf("file bind onto a hard-linked file: %v", err)
	}
	fifo := filepath.Join(outside, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(outside, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct{ src, want string }{
		{fifo, "is a FIFO"},
		{sock, "is a unix socket"},
		{"/dev/null", "is a character device"},
	} {
		m := Mount{Index: 2, FSType: "nullfs", Source: tt.src, Dest: "/x", Target: filepath.Join(root, "x")}
		if err := m.Prepare(root); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "mounts[2].source") {
			t.Errorf("source %s: %v, want %q", tt.src, err, tt.want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "x")); err == nil {
		t.Error("a refused mount created its mount point")
	}
}

// F10: the target is checked again right before nmount, so a component
// swapped for a symbolic link after Prepare is refused instead of being
// followed out of the root.
func TestVerifyTargetCatchesSwap(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	m := Mount{Index: 0, FSType: "tmpfs", Dest: "/data/cache", Target: filepath.Join(root, "data", "cache")}
	if err := m.Prepare(root); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTarget(root, m.Dest, false); err != nil {
		t.Fatalf("untouched target: %v", err)
	}
	// The attack: replace /data by a link to a host directory.
	if err := os.Rename(filepath.Join(root, "data"), filepath.Join(root, "data.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(outside, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "data")); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTarget(root, m.Dest, false); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("swapped target: %v", err)
	}
	os.Remove(filepath.Join(root, "data"))
	if err := VerifyTarget(root, m.Dest, false); err == nil || !strings.Contains(err.Error(), "disappeared") {
		t.Errorf("removed target: %v", err)
	}
}

func TestSupportedMountOptions(t *testing.T) {
	got := strings.Join(SupportedMountOptions(), " ")
	for _, o := range []string{"ro", "nosuid", "noexec", "noatime", "bind", "rbind", "ruleset=", "size=", "mode=", "uid=", "gid=", "inodes=", "rprivate", "nodev"} {
		if !strings.Contains(" "+got+" ", " "+o+" ") {
			t.Errorf("%q missing from %q", o, got)
		}
	}
	// Every advertised key=value option must be accepted by planMount.
	for _, spec := range []specs.Mount{
		{Destination: "/d", Type: "devfs", Options: []string{"ruleset=4"}},
		{Destination: "/t", Type: "tmpfs", Options: []string{"size=1m", "mode=0755", "uid=0", "gid=0", "inodes=10", "noatime"}},
	} {
		if _, err := planMount("m", 0, "/r", "/b", spec); err != nil {
			t.Errorf("%v: %v", spec.Options, err)
		}
	}
	if (MountFlags{ReadOnly: true, NoSuid: true, NoExec: true, NoAtime: true}).Bits() != 0x1|0x4|0x8|0x10000000 {
		t.Error("MountFlags.Bits")
	}
}
