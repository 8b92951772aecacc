package monitor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeArgs(t *testing.T) {
	for _, tt := range []struct {
		call string
		arch string
		args []uint64
		want map[string]string
	}{
		{"socket", "amd64", []uint64{2, 1 | 0x80000, 6}, map[string]string{"family": "AF_INET", "type": "SOCK_STREAM|SOCK_CLOEXEC", "protocol": "IPPROTO_TCP"}},
		{"socket", "amd64", []uint64{17, 3 | 0x800, 0x300}, map[string]string{"family": "AF_PACKET", "type": "SOCK_RAW|SOCK_NONBLOCK", "protocol": "0x300"}},
		{"socketpair", "amd64", []uint64{1, 5}, map[string]string{"family": "AF_UNIX", "type": "SOCK_SEQPACKET"}},
		{"openat", "amd64", []uint64{0xffffff9c, 0, 0x241 | 0x80000, 0o644}, map[string]string{"dirfd": "AT_FDCWD", "flags": "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC", "mode": "0644"}},
		{"openat", "amd64", []uint64{3, 0, 0x410002, 0}, map[string]string{"dirfd": "3", "flags": "O_RDWR|O_TMPFILE", "mode": "00"}},
		{"openat", "arm64", []uint64{^uint64(99), 0, 0x4000 | 0x8000, 0}, map[string]string{"dirfd": "AT_FDCWD", "flags": "O_RDONLY|O_DIRECTORY|O_NOFOLLOW", "mode": "00"}},
		{"openat", "amd64", []uint64{0, 0, 0x10000 | 0x20000, 0}, map[string]string{"dirfd": "0", "flags": "O_RDONLY|O_DIRECTORY|O_NOFOLLOW", "mode": "00"}},
		{"open", "amd64", []uint64{0, 0x2 | 0x400, 0}, map[string]string{"flags": "O_RDWR|O_APPEND", "mode": "00"}},
		{"clone", "amd64", []uint64{0x3d0f00}, map[string]string{"flags": "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"}},
		{"clone", "amd64", []uint64{0x10000000 | 0x20000 | 17}, map[string]string{"flags": "CLONE_NEWNS|CLONE_NEWUSER|SIGCHLD"}},
		{"unshare", "amd64", []uint64{0x40000000}, map[string]string{"flags": "CLONE_NEWNET"}},
		{"ioctl", "amd64", []uint64{0, 0x5412}, map[string]string{"request": "TIOCSTI"}},
		{"ioctl", "amd64", []uint64{0, 0x5412 | 1<<32}, map[string]string{"request": "TIOCSTI (0x100005412)"}},
		{"ioctl", "amd64", []uint64{0, 0xdead}, map[string]string{"request": "0xdead"}},
		{"personality", "amd64", []uint64{0x0400000}, map[string]string{"persona": "PER_LINUX|READ_IMPLIES_EXEC"}},
		{"personality", "amd64", []uint64{0xffffffff}, map[string]string{"persona": "0xffffffff (query)"}},
		{"kill", "amd64", []uint64{1, 9}, map[string]string{"sig": "SIGKILL"}},
	} {
		got := DecodeArgs(tt.call, tt.arch, tt.args)
		if len(got) != len(tt.want) {
			t.Errorf("%s%#x: %v, want %v", tt.call, tt.args, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s%#x: %s = %q, want %q", tt.call, tt.args, k, got[k], v)
			}
		}
	}
	if DecodeArgs("getpid", "amd64", nil) != nil {
		t.Error("a call without decoded arguments gets a map")
	}
}

func TestEventText(t *testing.T) {
	e := Event{
		Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Container: "c1", Pid: 7, Arch: "amd64",
		Syscall: "socket", Nr: 41, Args: []uint64{2, 1, 0, 0, 0, 0}, Action: ActionDenied, Errno: "EPERM",
	}
	e.Decoded = DecodeArgs(e.Syscall, e.Arch, e.Args)
	if got, want := e.String(), "2026-12-01T10:00:00Z c1 pid 7 amd64 socket(AF_INET, SOCK_STREAM, 0, 0x0, 0x0, 0x0) denied EPERM"; got != want {
		t.Errorf("text:\n%s\nwant\n%s", got, want)
	}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"args":[2,1,0,0,0,0]`, `"decoded":{"family":"AF_INET","protocol":"0","type":"SOCK_STREAM"}`, `"errno":"EPERM"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s lacks %s", data, want)
		}
	}
	g := Event{Syscall: "getpid", Args: []uint64{0, 0, 0, 0, 0, 0}, Action: ActionAudited}
	if s := g.String(); !strings.Contains(s, "getpid(0x0, 0x0, 0x0, 0x0, 0x0, 0x0) audited") {
		t.Errorf("text %q", s)
	}
}
