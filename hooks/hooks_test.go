package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
)

func TestParseKmsg(t *testing.T) {
	kill := `6,4127,6634953492,-;audit: type=1326 audit(1796160954.533:106): auid=4294967295 uid=101000 gid=101000 ses=4294967295 pid=3757 comm="plugin" exe="/bin/plugin" sig=31 arch=c000003e syscall=140 compat=0 ip=0x43cf09 code=0x80000000` + "\n"
	r, n := parseKmsg(kill)
	if r == nil || n != 0 {
		t.Fatalf("parseKmsg(kill) = %+v, %d", r, n)
	}
	k := r.kernelRecord("c1")
	want := KernelRecord{Time: time.UnixMilli(1796160954533).UTC(), Container: "c1", Pid: 3757, Comm: "plugin", Exe: "/bin/plugin",
		Arch: "amd64", Syscall: "getpriority", Nr: 140, Action: "killed", Signal: 31, Source: "kernel"}
	if k != want {
		t.Errorf("record\n%+v\nwant\n%+v", k, want)
	}
	for code, action := range map[string]string{"0x0": "killed-thread", "0x30000": "trapped", "0x50000": "denied", "0x7ffc0000": "logged", "0x7fc00000": "notified", "0x7ff00000": "traced"} {
		r, _ := parseKmsg(strings.Replace(kill, "code=0x80000000", "code="+code, 1))
		if r == nil || r.kernelRecord("c").Action != action {
			t.Errorf("code %s: %+v, want %s", code, r, action)
		}
	}
	// A command name the kernel printed in hex, an arm64 call, a compat call.
	arm := strings.NewReplacer(`comm="plugin"`, `comm=6D7920706C7567`, "arch=c000003e", "arch=c00000b7", "syscall=140", "syscall=141").Replace(kill)
	if r, _ := parseKmsg(arm); r == nil || r.comm != "6D7920706C7567" || r.kernelRecord("c").Syscall != "getpriority" || r.kernelRecord("c").Arch != "arm64" {
		t.Errorf("arm64 record: %+v", r)
	}
	if r, _ := parseKmsg(strings.Replace(kill, "compat=0", "compat=1", 1)); r == nil || r.kernelRecord("c").Syscall != "syscall_140" {
		t.Errorf("a compat call is named with the native table")
	}
	if _, n := parseKmsg("4,4130,6640000000,-;kauditd_printk_skb: 7 callbacks suppressed\n"); n != 7 {
		t.Errorf("suppressed count %d, want 7", n)
	}
	for _, line := range []string{"6,1,1,-;audit: type=1300 audit(1.0:1): arch=c000003e", "6,1,1,-;eth0: link up", "garbage", "6,1,1,-;audit: type=1326 audit(1.0:1): pid=x"} {
		if r, n := parseKmsg(line); r != nil || n != 0 {
			t.Errorf("parseKmsg(%q) = %+v, %d", line, r, n)
		}
	}
}

func TestRecordingScope(t *testing.T) {
	m := bundle.DefaultManifest()
	m.OnViolation = "kill"
	kill, err := bundle.Spec(m, bundle.SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := recordingScope(kill); strings.Contains(s, "not reported") {
		t.Errorf("kill profile: %q", s)
	}
	errno, _ := bundle.Spec(bundle.DefaultManifest(), bundle.SpecOptions{})
	if s := recordingScope(errno); !strings.Contains(s, "fails with an errno are not reported") || !strings.Contains(s, "monitor logs the errno denials") {
		t.Errorf("errno profile: %q", s)
	}
	errno.Linux.Seccomp.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	if s := recordingScope(errno); !strings.Contains(s, "every other call it does not allow") {
		t.Errorf("errno profile with the log flag: %q", s)
	}
	errno.Linux.Seccomp = nil
	if s := recordingScope(errno); !strings.Contains(s, "nothing to record") {
		t.Errorf("no profile: %q", s)
	}
}

func writeBundle(t *testing.T, spec *specs.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func state(id, dir string) *bytes.Reader {
	data, _ := json.Marshal(specs.State{Version: specs.Version, ID: id, Status: specs.StateCreating, Pid: 42, Bundle: dir})
	return bytes.NewReader(data)
}

func TestCheckHook(t *testing.T) {
	good, err := bundle.Spec(bundle.DefaultManifest(), bundle.SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Check(state("c1", writeBundle(t, good)), &out); err != nil {
		t.Errorf("a hardened bundle was refused: %v\n%s", err, out.String())
	}
	bad, _ := bundle.Spec(bundle.DefaultManifest(), bundle.SpecOptions{})
	bad.Linux.Seccomp = nil
	out.Reset()
	err = Check(state("c2", writeBundle(t, bad)), &out)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "1 HIGH finding") {
		t.Errorf("Check(no seccomp) = %v", err)
	}
	if !strings.Contains(out.String(), "plugbox hook check: c2: HIGH linux.seccomp: no seccomp filter") {
		t.Errorf("findings on stderr:\n%s", out.String())
	}
	for in, msg := range map[string]string{"": "not JSON", "{}": "no id or bundle", `{"id": "x"}`: "no id or bundle"} {
		if err := Check(strings.NewReader(in), &out); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Check(%q) = %v, want %q", in, err, msg)
		}
	}
	if err := Check(state("c3", t.TempDir()), &out); err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("a bundle without config.json: %v", err)
	}
}
