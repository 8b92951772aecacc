package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"268435456", 268435456, false},
		{"64M", 64 << 20, false},
		{"64MiB", 64 << 20, false},
		{"64mb", 64 << 20, false},
		{"1G", 1 << 30, false},
		{"0.5G", 512 << 20, false},
		{"512K", 512 << 10, false},
		{"64X", 0, true},
		{"M", 0, true},
		{"-1M", 0, true},
		{"", 0, true},
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if s := ByteSize(256 << 20).String(); s != "256M" {
		t.Errorf("String() = %q, want 256M", s)
	}
}

func TestDecodeManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"syntax", "{\n  \"name\": \"x\",,\n}", "plugin.json:2:"},
		{"type", "{\n  \"name\": 3\n}", "plugin.json:2:"},
		{"unknown field", `{"name": "x", "netwrok": "host"}`, `unknown field "netwrok"`},
		{"bad size", "{\"name\": \"x\",\n \"limits\": {\"memory\": \"64X\"}}", `plugin.json:2:23: size "64X"`},
		{"negative size", `{"limits": {"tmp": -5}}`, "size -5"},
		{"trailing", `{"name": "x"} {}`, "trailing data"},
	} {
		_, err := DecodeManifest("plugin.json", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeManifestSizes(t *testing.T) {
	m, err := DecodeManifest("plugin.json", []byte(`{"name": "x", "command": ["/bin/x"], "limits": {"memory": "128M", "tmp": 1048576}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Limits.Memory != 128<<20 || m.Limits.Tmp != 1<<20 {
		t.Errorf("limits = %+v", m.Limits)
	}
}

func TestManifestValidate(t *testing.T) {
	dir := t.TempDir()
	u := func(v uint32) *uint32 { return &v }
	for _, tc := range []struct {
		name   string
		modify func(m *Manifest)
		want   string // "" means valid
	}{
		{"default", func(m *Manifest) {}, ""},
		{"paths", func(m *Manifest) { m.Read = []string{dir}; m.Write = []string{filepath.Join(dir)} }, "already listed"},
		{"read and write", func(m *Manifest) { m.Read = []string{"/usr/share"}; m.Write = []string{dir} }, ""},
		{"empty name", func(m *Manifest) { m.Name = "" }, `"name" is empty`},
		{"bad name", func(m *Manifest) { m.Name = "../x" }, `"name"`},
		{"no command", func(m *Manifest) { m.Command = nil }, `"command" is empty`},
		{"relative command", func(m *Manifest) { m.Command = []string{"plugin"} }, "command[0]"},
		{"command in tmp", func(m *Manifest) { m.Command = []string{"/tmp/x"} }, "under /tmp"},
		{"relative read", func(m *Manifest) { m.Read = []string{"data"} }, "read[0]"},
		{"missing read", func(m *Manifest) { m.Read = []string{filepath.Join(dir, "nope")} }, "does not exist"},
		{"read proc", func(m *Manifest) { m.Read = []string{"/proc/self"} }, "host kernel interfaces"},
		{"write etc", func(m *Manifest) { m.Write = []string{"/etc"} }, "writable by the plugin"},
		{"docker socket", func(m *Manifest) { m.Read = []string{"/var/run/docker.sock"} }, "host socket"},
		{"read root", func(m *Manifest) { m.Read = []string{"/"} }, "whole filesystem"},
		{"write tmp", func(m *Manifest) { m.Write = []string{"/tmp"} }, "private tmpfs"},
		{"network", func(m *Manifest) { m.Network = "bridge" }, `"network"`},
		{"violation", func(m *Manifest) { m.OnViolation = "zap" }, `onViolation "zap": use "errno"`},
		{"violation log", func(m *Manifest) { m.OnViolation = "log" }, ""},
		{"violation errno name", func(m *Manifest) { m.OnViolation = "errno:EACCES" }, ""},
		{"violation errno unknown", func(m *Manifest) { m.OnViolation = "errno:EWHAT" }, "not an errno name"},
		{"call action", func(m *Manifest) { m.SyscallActions = map[string]string{"ptrace": "kill", "mount": "errno:EPERM"} }, ""},
		{"call action unknown call", func(m *Manifest) { m.SyscallActions = map[string]string{"ptrase": "kill"} }, `syscallActions["ptrase"]: not a syscall`},
		{"call action bad value", func(m *Manifest) { m.SyscallActions = map[string]string{"ptrace": "explode"} }, `syscallActions["ptrace"] "explode"`},
		{"call action on an allowed call", func(m *Manifest) { m.SyscallActions = map[string]string{"read": "kill"} }, `syscallActions["read"]: the profile allows read`},
		{"call action on ioctl", func(m *Manifest) { m.SyscallActions = map[string]string{"ioctl": "kill"} }, `syscallActions["ioctl"]: ioctl is allowed for some arguments`},
		{"call action lets ptrace run", func(m *Manifest) { m.SyscallActions = map[string]string{"ptrace": "audit"} }, "never granted"},
		{"landlock", func(m *Manifest) { m.Landlock = "maybe" }, `"landlock"`},
		{"group", func(m *Manifest) { m.Syscalls = []string{"no-such-group"} }, "syscalls[0]"},
		{"extra", func(m *Manifest) { m.ExtraSyscalls = []string{"Open At"} }, "extraSyscalls[0]"},
		{"extra denied", func(m *Manifest) { m.ExtraSyscalls = []string{"ptrace"} }, "never granted"},
		{"network needs socket group", func(m *Manifest) { m.Network = NetworkLoopback }, "net-client"},
		{"network with socket group", func(m *Manifest) { m.Network = NetworkLoopback; m.Syscalls = []string{"net-client"} }, ""},
		{"env form", func(m *Manifest) { m.Env = []string{"NOEQUALS"} }, "env[0]"},
		{"env reserved", func(m *Manifest) { m.Env = []string{"LISTEN_FDS=3"} }, `"fds"`},
		{"fd name", func(m *Manifest) { m.FDs = []string{"a:b"} }, "fds[0]"},
		{"uid 0", func(m *Manifest) { m.UID = u(0) }, "never run as root"},
		{"uid big", func(m *Manifest) { m.UID = u(70000) }, `"uid"`},
		{"memory", func(m *Manifest) { m.Limits.Memory = 1024 }, "limits.memory"},
		{"pids", func(m *Manifest) { m.Limits.Pids = -1 }, "limits.pids"},
		{"cpus", func(m *Manifest) { m.Limits.CPUs = 0.001 }, "limits.cpus"},
		{"openFiles", func(m *Manifest) { m.Limits.OpenFiles = 3 }, "limits.openFiles"},
		{"timeout", func(m *Manifest) { m.Limits.Timeout = "soon" }, "limits.timeout"},
		{"negative timeout", func(m *Manifest) { m.Limits.Timeout = "-1s" }, "limits.timeout"},
		{"default tmp above memory", func(m *Manifest) { m.Limits.Memory = 32 << 20; m.Limits.Tmp = 0 }, "limits.tmp 64M is larger than limits.memory 32M"},
		{"tmp above memory", func(m *Manifest) { m.Limits.Memory = 128 << 20; m.Limits.Tmp = 1 << 30 }, "limits.tmp 1G is larger"},
		{"tmp equal to memory", func(m *Manifest) { m.Limits.Memory = 64 << 20; m.Limits.Tmp = 64 << 20 }, ""},
	} {
		m := DefaultManifest()
		tc.modify(m)
		err := m.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadManifest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ManifestName)
	if _, err := LoadManifest(p); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing file: %v", err)
	}
	data := `{"name": "echo", "command": ["/bin/echo", "hi"], "write": ["` + dir + `"], "limits": {"memory": "64M", "timeout": "5s"}, "fds": ["listener"]}`
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "echo" || m.Limits.Memory != 64<<20 || len(m.Write) != 1 {
		t.Errorf("decoded %+v", m)
	}
	if err := os.WriteFile(p, []byte(`{"name": "echo", "command": ["/bin/echo"], "read": ["/nonexistent/x"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifest(p); err == nil || !strings.Contains(err.Error(), p+": read[0]") {
		t.Errorf("invalid manifest: %v", err)
	}
}
