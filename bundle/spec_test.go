package bundle

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecDefault(t *testing.T) {
	s, err := Spec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Root == nil || !s.Root.Readonly || s.Root.Path != "rootfs" {
		t.Errorf("root = %+v", s.Root)
	}
	p := s.Process
	if !p.NoNewPrivileges {
		t.Error("noNewPrivileges is false")
	}
	c := p.Capabilities
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "inheritable": c.Inheritable, "permitted": c.Permitted, "ambient": c.Ambient} {
		if set == nil || len(set) != 0 {
			t.Errorf("capabilities.%s = %#v, want empty non-nil", name, set)
		}
	}
	if p.User.UID != DefaultUID || p.User.GID != DefaultGID {
		t.Errorf("user = %+v", p.User)
	}
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			t.Errorf("namespace %s joins %s", ns.Type, ns.Path)
		}
		types = append(types, ns.Type)
	}
	for _, want := range []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace} {
		if !slices.Contains(types, want) {
			t.Errorf("namespace %s missing", want)
		}
	}
	// As root, each sandbox gets its own range at create: no fixed maps.
	if len(s.Linux.UIDMappings) != 0 || len(s.Linux.GIDMappings) != 0 || s.Annotations[AnnotationIDMap] != IDMapAuto {
		t.Errorf("uidMappings = %+v, gidMappings = %+v, %s = %q", s.Linux.UIDMappings, s.Linux.GIDMappings, AnnotationIDMap, s.Annotations[AnnotationIDMap])
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != DefaultMemory || *r.Pids.Limit != DefaultPids || *r.CPU.Quota != 100000 {
		t.Errorf("resources = %+v %+v %+v", *r.Memory.Limit, *r.Pids.Limit, *r.CPU.Quota)
	}
	if s.Linux.Seccomp == nil {
		t.Error("no seccomp")
	}
	rl := map[string]uint64{}
	for _, l := range p.Rlimits {
		rl[l.Type] = l.Hard
	}
	if v, ok := rl["RLIMIT_NOFILE"]; !ok || v != DefaultOpenFiles {
		t.Errorf("RLIMIT_NOFILE = %d, %v", v, ok)
	}
	if v, ok := rl["RLIMIT_CORE"]; !ok || v != 0 {
		t.Errorf("RLIMIT_CORE = %d, %v", v, ok)
	}
	if s.Annotations[AnnotationAuthored] != "plugin" || s.Annotations[AnnotationTimeout] != DefaultTimeout {
		t.Errorf("annotations = %v", s.Annotations)
	}
	pol, err := landlockOf(s.Annotations)
	if err != nil || pol == nil {
		t.Fatalf("landlock = %v, %v", pol, err)
	}
	if !slices.Equal(pol.ReadOnly, []string{"/"}) || !slices.Contains(pol.ReadWrite, "/tmp") || pol.BestEffort {
		t.Errorf("landlock = %+v", pol)
	}
	dests := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		dests[m.Destination] = m
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/tmp"} {
		if _, ok := dests[d]; !ok {
			t.Errorf("mount %s missing", d)
		}
	}
	if o := dests["/tmp"].Options; !slices.Contains(o, "noexec") || !slices.Contains(o, "size=67108864") {
		t.Errorf("/tmp options = %v", o)
	}
	if _, ok := dests["/sys"]; ok {
		t.Error("/sys is mounted")
	}
	if err := Validate(t.TempDir(), s); err == nil {
		t.Error("Validate passed without a rootfs directory")
	}
}

func TestSpecManifest(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	m := DefaultManifest()
	m.Name = "thumbs"
	m.Command = []string{"/usr/bin/thumbs", "--fast"}
	m.Read = []string{dir}
	m.Write = []string{out}
	m.Network = NetworkHost
	m.Syscalls = []string{"base", "fs-read", "net-server"}
	m.FDs = []string{"http", "metrics"}
	m.Env = []string{"PATH=/opt/bin", "LANG=C.UTF-8"}
	m.Landlock = LandlockBestEffort
	s, err := Spec(m, SpecOptions{Rootless: true, HostUID: 1234, HostGID: 1235})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Error("network host still has a network namespace")
		}
	}
	if u := s.Linux.UIDMappings; len(u) != 1 || u[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1234, Size: 1}) {
		t.Errorf("uidMappings = %+v", u)
	}
	if g := s.Linux.GIDMappings; len(g) != 1 || g[0].HostID != 1235 {
		t.Errorf("gidMappings = %+v", g)
	}
	if s.Process.User.UID != 0 {
		t.Errorf("rootless uid = %d, want 0 inside", s.Process.User.UID)
	}
	env := strings.Join(s.Process.Env, "\n")
	for _, want := range []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=http:metrics", "LISTEN_PID=1", "PATH=/opt/bin", "LANG=C.UTF-8", "HOME=/tmp"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, s.Process.Env)
		}
	}
	if strings.Count(env, "PATH=") != 1 {
		t.Errorf("PATH set twice: %v", s.Process.Env)
	}
	if s.Annotations[AnnotationFDNames] != "http:metrics" {
		t.Errorf("fd names annotation = %q", s.Annotations[AnnotationFDNames])
	}
	var ro, rw *specs.Mount
	for i, mt := range s.Mounts {
		switch mt.Destination {
		case dir:
			ro = &s.Mounts[i]
		case out:
			rw = &s.Mounts[i]
		}
	}
	if ro == nil || !slices.Contains(ro.Options, "ro") || !slices.Contains(ro.Options, "nosuid") || ro.Source != dir {
		t.Errorf("read mount = %+v", ro)
	}
	if rw == nil || !slices.Contains(rw.Options, "rw") || !slices.Contains(rw.Options, "noexec") {
		t.Errorf("write mount = %+v", rw)
	}
	// A rootless caller cannot make idmapped mounts, nor needs them.
	if slices.Contains(rw.Options, "ridmap") || s.Annotations[AnnotationIDMap] != "" {
		t.Errorf("rootless write mount = %+v, %s = %q", rw, AnnotationIDMap, s.Annotations[AnnotationIDMap])
	}
	pol, _ := landlockOf(s.Annotations)
	if pol == nil || !slices.Contains(pol.ReadWrite, out) || slices.Contains(pol.ReadWrite, dir) || !pol.BestEffort {
		t.Errorf("landlock = %+v", pol)
	}

	m.Landlock = LandlockOff
	s, err = Spec(m, SpecOptions{IDMapBase: 200000})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Annotations[AnnotationLandlock]; ok {
		t.Error("landlock off still writes a policy")
	}
	if s.Linux.UIDMappings[0].HostID != 200000 || s.Process.User.UID != DefaultUID {
		t.Errorf("root mapping = %+v, uid %d", s.Linux.UIDMappings, s.Process.User.UID)
	}
	if _, ok := s.Annotations[AnnotationIDMap]; ok {
		t.Error("a fixed id map base still asks for an allocated range")
	}

	// As root with an allocated range, write paths (only) are idmapped, so
	// the plugin owns what the manifest's uid owns on disk.
	s, err = Spec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mnt := range s.Mounts {
		if idmapped := slices.Contains(mnt.Options, "ridmap"); idmapped != (mnt.Destination == out) {
			t.Errorf("mount %s: options %v", mnt.Destination, mnt.Options)
		}
	}
}

func TestSpecRefuses(t *testing.T) {
	if _, err := Spec(DefaultManifest(), SpecOptions{Rootless: true}); err == nil || !strings.Contains(err.Error(), "host root") {
		t.Errorf("rootless with host uid 0: %v", err)
	}
	m := DefaultManifest()
	m.Command = nil
	if _, err := Spec(m, SpecOptions{}); err == nil {
		t.Error("invalid manifest accepted")
	}
	if _, err := Spec(DefaultManifest(), SpecOptions{IDMapBase: 1<<32 - 10}); err == nil {
		t.Error("overflowing id map base accepted")
	}
}
