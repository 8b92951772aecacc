package bundle

import (
	"net"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runcDefault rebuilds the config.json `runc spec` writes (runc's
// libcontainer/specconv Example, cgroup v2 flavour).
func runcDefault() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal:        true,
			Args:            []string{"sh"},
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Permitted: caps, Effective: caps},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "runc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			MaskedPaths:   []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
		},
	}
}

// has reports whether findings hold one of severity sev whose field and
// problem contain the given substrings.
func has(findings []Finding, sev Severity, field, problem string) bool {
	for _, f := range findings {
		if f.Severity == sev && strings.Contains(f.Field, field) && strings.Contains(f.Problem, problem) {
			return true
		}
	}
	return false
}

func TestCheckRuncDefault(t *testing.T) {
	fs := Check(runcDefault(), "")
	if Worst(fs) != High {
		t.Fatalf("runc's default spec: worst = %v, findings:\n%s", Worst(fs), render(fs))
	}
	for _, want := range []struct {
		sev            Severity
		field, problem string
	}{
		{High, "linux.seccomp", "no seccomp"},
		{High, "process.user.uid", "uid 0 without a user namespace"},
		{Medium, "linux.namespaces", "no user namespace"},
		{Medium, "process.capabilities", "CAP_KILL"},
		{Medium, "linux.resources.pids", "no pids limit"},
		{Medium, "linux.resources.memory", "no memory limit"},
		{Low, "process.rlimits", "RLIMIT_CORE"},
		{Low, "annotations", "no Landlock"},
	} {
		if !has(fs, want.sev, want.field, want.problem) {
			t.Errorf("missing %v %s %q in:\n%s", want.sev, want.field, want.problem, render(fs))
		}
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Severity > fs[i-1].Severity {
			t.Fatalf("findings not sorted worst first:\n%s", render(fs))
		}
	}
}

func render(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestCheckAuthored(t *testing.T) {
	for _, opts := range []SpecOptions{{}, {Rootless: true, HostUID: 1000, HostGID: 1000}} {
		for _, network := range []string{NetworkNone, NetworkLoopback} {
			m := DefaultManifest()
			m.Network = network
			m.Syscalls = append(m.Syscalls, "net-client")
			m.Read = []string{"/usr/share"}
			m.Write = []string{t.TempDir()}
			s, err := Spec(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			if fs := Check(s, ""); Worst(fs) > Low {
				t.Errorf("Spec(%s, %+v) has findings above Low:\n%s", network, opts, render(fs))
			}
		}
	}
	m := DefaultManifest()
	m.Network = NetworkHost
	m.Syscalls = append(m.Syscalls, "net-server")
	s, err := Spec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs := Check(s, ""); !has(fs, Medium, "linux.namespaces", "no network namespace") || Worst(fs) != Medium {
		t.Errorf("network host: want exactly a Medium network finding, got:\n%s", render(fs))
	}
}

func TestCheckTable(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name           string
		modify         func(s *specs.Spec)
		sev            Severity
		field, problem string
	}{
		{"host pid ns", func(s *specs.Spec) { dropNS(s, specs.PIDNamespace) }, High, "linux.namespaces", "no pid namespace"},
		{"host mount ns", func(s *specs.Spec) { dropNS(s, specs.MountNamespace) }, High, "linux.namespaces", "no mount namespace"},
		{"joined net ns", func(s *specs.Spec) { setNSPath(s, specs.NetworkNamespace, "/proc/1/ns/net") }, Medium, "linux.namespaces", "joins /proc/1/ns/net"},
		{"no ipc ns", func(s *specs.Spec) { dropNS(s, specs.IPCNamespace) }, Medium, "linux.namespaces", "no ipc namespace"},
		{"no uts ns", func(s *specs.Spec) { dropNS(s, specs.UTSNamespace) }, Low, "linux.namespaces", "no uts namespace"},
		{"root maps to root", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		}, High, "linux.uidMappings", "host id 0"},
		{"sys admin", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_SYS_ADMIN"} }, High, "process.capabilities", "CAP_SYS_ADMIN"},
		{"no caps section", func(s *specs.Spec) { s.Process.Capabilities = nil }, High, "process.capabilities", "every capability"},
		{"no seccomp", func(s *specs.Spec) { s.Linux.Seccomp = nil }, High, "linux.seccomp", "no seccomp"},
		{"allow default", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActAllow }, High, "linux.seccomp.defaultAction", "SCMP_ACT_ALLOW"},
		{"log default", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActLog }, High, "linux.seccomp.defaultAction", "SCMP_ACT_LOG"},
		{"ptrace allowed", func(s *specs.Spec) {
			s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"ptrace", "bpf"}, Action: specs.ActAllow})
		}, High, "linux.seccomp.syscalls", "bpf, ptrace"},
		{"spec allow", func(s *specs.Spec) { s.Linux.Seccomp.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow} }, Low, "linux.seccomp.flags", "store bypass"},
		{"nnp off", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, High, "process.noNewPrivileges", "no_new_privs"},
		{"writable root", func(s *specs.Spec) { s.Root.Readonly = false }, Medium, "root.readonly", "writable"},
		{"no pids", func(s *specs.Spec) { s.Linux.Resources.Pids = nil }, Medium, "linux.resources.pids", "fork bomb"},
		{"no memory", func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = i64(0) }, Medium, "linux.resources.memory", "OOM"},
		{"no resources", func(s *specs.Spec) { s.Linux.Resources = nil }, Medium, "linux.resources.pids", "fork bomb"},
		{"all devices", func(s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		}, High, "linux.resources.devices[0]", "every device"},
		{"dev mem", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mem", Type: "c", Major: 1, Minor: 1}}
		}, High, "linux.devices[0]", "/dev/mem"},
		{"no masks", func(s *specs.Spec) { s.Linux.MaskedPaths = nil }, Medium, "linux.maskedPaths", "/proc/kcore"},
		{"no readonly paths", func(s *specs.Spec) { s.Linux.ReadonlyPaths = nil }, Medium, "linux.readonlyPaths", "/proc/sys"},
		{"no nofile", func(s *specs.Spec) { s.Process.Rlimits = s.Process.Rlimits[1:] }, Low, "process.rlimits", "RLIMIT_NOFILE"},
		{"core", func(s *specs.Spec) { s.Process.Rlimits[1].Hard = 1 << 20 }, Low, "process.rlimits", "RLIMIT_CORE"},
		{"no landlock", func(s *specs.Spec) { delete(s.Annotations, AnnotationLandlock) }, Low, "annotations", "no Landlock"},
		{"bad landlock", func(s *specs.Spec) { s.Annotations[AnnotationLandlock] = "{" }, Medium, "annotations", "does not parse"},
		{"root uid no userns", func(s *specs.Spec) { dropNS(s, specs.UserNamespace); s.Process.User.UID = 0 }, High, "process.user.uid", "host root"},
		{"hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}} }, Medium, "hooks", "outside the sandbox"},
		{"bind root", func(s *specs.Spec) { addBind(s, "/", "/host", "ro") }, High, "mounts[", "whole filesystem"},
		{"docker socket", func(s *specs.Spec) { addBind(s, "/var/run/docker.sock", "/var/run/docker.sock", "rw") }, High, "mounts[", "docker.sock"},
		{"containerd socket", func(s *specs.Spec) { addBind(s, "/run/containerd/containerd.sock", "/c.sock", "ro") }, High, "mounts[", "containerd.sock"},
		{"podman socket", func(s *specs.Spec) { addBind(s, "/run/podman/podman.sock", "/p.sock", "ro") }, High, "mounts[", "podman.sock"},
		{"other socket", func(s *specs.Spec) { addBind(s, "/run/user/1000/app.sock", "/app.sock", "rw") }, Medium, "mounts[", "host socket"},
		{"proc sys rw", func(s *specs.Spec) { addBind(s, "/proc/sys", "/proc/sys", "rw") }, High, "mounts[", "/proc/sys"},
		{"sys rw", func(s *specs.Spec) { addBind(s, "/sys", "/sys", "rw") }, High, "mounts[", "/sys"},
		{"sysfs rw", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid"}})
		}, High, "mounts[", "sysfs is mounted read-write"},
		{"dev bind", func(s *specs.Spec) { addBind(s, "/dev", "/dev", "rw") }, High, "mounts[", "/dev"},
		{"etc rw", func(s *specs.Spec) { addBind(s, "/etc", "/etc", "rw") }, High, "mounts[", "/etc is writable"},
		{"etc subdir rw", func(s *specs.Spec) { addBind(s, "/etc/ssl", "/etc/ssl", "rw") }, High, "mounts[", "under /etc"},
		{"run", func(s *specs.Spec) { addBind(s, "/run", "/run", "ro") }, High, "mounts[", "sockets"},
	} {
		s, err := Spec(DefaultManifest(), SpecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tc.modify(s)
		fs := Check(s, "")
		if !has(fs, tc.sev, tc.field, tc.problem) {
			t.Errorf("%s: want %v %s %q, got:\n%s", tc.name, tc.sev, tc.field, tc.problem, render(fs))
		}
	}
	if fs := Check(nil, ""); Worst(fs) != High {
		t.Error("nil spec is not High")
	}
	if Worst(nil) != 0 || Severity(0).String() != "NONE" {
		t.Error("Worst(nil) is not 0")
	}
}

func dropNS(s *specs.Spec, t specs.LinuxNamespaceType) {
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	s.Linux.Namespaces = out
}

func setNSPath(s *specs.Spec, t specs.LinuxNamespaceType, p string) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == t {
			s.Linux.Namespaces[i].Path = p
		}
	}
}

func addBind(s *specs.Spec, src, dst, mode string) {
	s.Mounts = append(s.Mounts, specs.Mount{Source: src, Destination: dst, Type: "bind", Options: []string{"rbind", mode}})
}

func TestFindingString(t *testing.T) {
	f := Finding{Severity: High, Field: "linux.seccomp", Problem: "no seccomp filter", Fix: "add one"}
	if got, want := f.String(), "HIGH linux.seccomp: no seccomp filter (fix: add one)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCheckHostSocket(t *testing.T) {
	dir := t.TempDir()
	sock := dir + "/svc"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	link := dir + "/innocent"
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	s, err := Spec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addBind(s, link, "/x", "ro")
	if fs := Check(s, ""); !has(fs, Medium, "mounts[", "is a unix socket") {
		t.Errorf("socket behind a symlink not flagged:\n%s", render(fs))
	}
	m := DefaultManifest()
	m.Read = []string{link}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "unix socket") {
		t.Errorf("manifest binding a socket: %v", err)
	}
	m.Read = []string{"/var/run/docker.sock"}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "docker.sock") {
		t.Errorf("manifest binding docker.sock: %v", err)
	}
}
