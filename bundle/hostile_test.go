package bundle

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/seccompgen"
)

// withSecondInterp writes to dst a copy of the 64-bit little-endian ELF
// program src whose first PT_NOTE after the real PT_INTERP is turned into a
// second PT_INTERP naming extra (the kernel uses only the first).
func withSecondInterp(t *testing.T, src, dst, extra string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("%s: %v", src, err)
	}
	if len(data) < 64 || data[elf.EI_CLASS] != byte(elf.ELFCLASS64) || data[elf.EI_DATA] != byte(elf.ELFDATA2LSB) {
		t.Skipf("%s is not a 64-bit little-endian ELF file", src)
	}
	le := binary.LittleEndian
	phoff, phentsize, phnum := le.Uint64(data[0x20:]), int(le.Uint16(data[0x36:])), int(le.Uint16(data[0x38:]))
	seenInterp := false
	for i := 0; i < phnum; i++ {
		ph := data[int(phoff)+i*phentsize:]
		switch elf.ProgType(le.Uint32(ph)) {
		case elf.PT_INTERP:
			seenInterp = true
		case elf.PT_NOTE:
			if !seenInterp {
				continue
			}
			le.PutUint32(ph, uint32(elf.PT_INTERP))
			le.PutUint64(ph[8:], uint64(len(data)))     // p_offset
			le.PutUint64(ph[32:], uint64(len(extra)+1)) // p_filesz
			le.PutUint64(ph[40:], uint64(len(extra)+1)) // p_memsz
			data = append(append(data, extra...), 0)
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Skipf("%s has no PT_NOTE after its PT_INTERP to rewrite", src)
}

func TestOnlyTheFirstInterpreterIsCopied(t *testing.T) {
	needExe(t, "/usr/bin/jq")
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(dir, "evil")
	withSecondInterp(t, "/usr/bin/jq", evil, secret)
	ef, err := elf.Open(evil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			n++
		}
	}
	ef.Close()
	if n != 2 {
		t.Fatalf("crafted file has %d PT_INTERP headers, want 2", n)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := AssembleRootfs(rootfs, evil); err != nil {
		t.Fatalf("assembly stopped at the ignored second PT_INTERP: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, secret)); err == nil {
		t.Errorf("the second PT_INTERP %s was copied into the rootfs", secret)
	}
	exists(t, rootfs, "/lib64/ld-linux-x86-64.so.2")
}

func TestInitKeepsHostModesAndInstallsTheProgramExecuteOnly(t *testing.T) {
	needExe(t, "/bin/busybox")
	dir := t.TempDir()
	// An interpreter the caller's own (untrusted: opt in), mode 0750.
	interp := filepath.Join(dir, "interp")
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(interp, data, 0o750); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!"+interp+" sh\necho hi\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b")
	if err := Init(b, script, nil, InitOptions{}); err == nil || !strings.Contains(err.Error(), "--allow-untrusted-files") {
		t.Fatalf("untrusted #! interpreter without the opt-in: %v", err)
	}
	if _, err := os.Lstat(b); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed Init left %s behind: %v", b, err)
	}
	if err := Init(b, script, nil, InitOptions{AllowUntrustedFiles: true, Spec: SpecOptions{Rootless: true, HostUID: 1000, HostGID: 1000}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{
		"rootfs" + interp:   0o750,
		"rootfs/bin/script": scriptProgramMode,
	} {
		if fi, err := os.Stat(filepath.Join(b, p)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %04o", p, fi.Mode(), err, want)
		}
	}
}

func TestInitRefusesAPopulatedOrLinkedBundleDir(t *testing.T) {
	needExe(t, "/bin/busybox")
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("ORIGINAL"), 0o600); err != nil {
		t.Fatal(err)
	}
	pre := filepath.Join(dir, "pre")
	if err := os.MkdirAll(filepath.Join(pre, "rootfs", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(pre, "rootfs", "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if err := Init(pre, "/bin/busybox", nil, InitOptions{}); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("pre-populated bundle dir: %v, want a 'not empty' error wrapping fs.ErrExist", err)
	}
	link := filepath.Join(dir, "link")
	target := filepath.Join(dir, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Init(link, "/bin/busybox", nil, InitOptions{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("bundle dir that is a symlink: %v", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "ORIGINAL" {
		t.Errorf("victim overwritten: %q", got)
	}
	if names, _ := os.ReadDir(target); len(names) != 0 {
		t.Errorf("wrote through the bundle dir link: %v", names)
	}
	// An existing empty directory of the caller's is fine.
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Init(empty, "/bin/busybox", nil, InitOptions{Spec: SpecOptions{Rootless: true, HostUID: 1000, HostGID: 1000}}); err != nil {
		t.Errorf("empty bundle dir: %v", err)
	}
}

func TestDirTreeNeverFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "top")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(top, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "file"), filepath.Join(top, "file")); err != nil {
		t.Fatal(err)
	}
	tree, err := openTree(top)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.close()
	if err := tree.writeFile("etc/passwd", []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("write below a linked directory: %v", err)
	}
	if err := tree.mkdirAll("etc/cron.hourly", 0o755); err == nil {
		t.Error("mkdir below a linked directory succeeded")
	}
	if err := tree.writeFile("file", []byte("x"), 0o644); err == nil {
		t.Error("create over a dangling link succeeded")
	}
	if err := tree.chmod("etc", 0o777); err == nil {
		t.Error("chmod through a link succeeded")
	}
	if err := tree.mkdirAll("../escape", 0o755); err == nil {
		t.Error("mkdir with .. succeeded")
	}
	if names, _ := os.ReadDir(outside); len(names) != 0 {
		t.Errorf("wrote outside the tree: %v", names)
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() != 0o755 {
		t.Errorf("outside dir mode changed to %v", fi.Mode())
	}
}

func TestVerifyBindsRefusesWhatChangedSinceInit(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "data")
	out := filepath.Join(parent, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other", "out")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	// The manifest names out through a symlink: the bind is from the real path.
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(out, alias); err != nil {
		t.Fatal(err)
	}
	m := DefaultManifest()
	m.Write = []string{alias}
	s, err := Spec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	binds, err := ParseBinds(s.Annotations)
	if err != nil || len(binds) != 1 || binds[0].Source != out || binds[0].Path != alias || !binds[0].Write || !binds[0].Dir {
		t.Fatalf("recorded binds %+v, %v", binds, err)
	}
	for _, mt := range s.Mounts {
		if mt.Destination == alias && mt.Source != out {
			t.Errorf("bind source %s, want the resolved %s", mt.Source, out)
		}
	}
	step := func(name, want string) {
		t.Helper()
		err := VerifyBinds("b", s)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error containing %q", name, err, want)
		}
	}
	step("unchanged", "")
	mustRename(t, out, out+".orig")
	if err := os.Symlink("/etc", out); err != nil {
		t.Fatal(err)
	}
	step("final component a link to /etc", "symbolic link")
	os.Remove(out)
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	step("another directory", "no longer the file bundle init checked")
	if fs := Check(s, ""); !has(fs, High, "annotations["+AnnotationBinds+"]", "no longer the file bundle init checked") {
		t.Errorf("check does not report the replaced write path:\n%s", render(fs))
	}
	os.Remove(out)
	mustRename(t, out+".orig", out)
	step("restored", "")
	mustRename(t, parent, parent+".orig")
	if err := os.Symlink(filepath.Dir(other), parent); err != nil {
		t.Fatal(err)
	}
	step("a parent swapped for a link", "symbolic link")
	os.Remove(parent)
	mustRename(t, parent+".orig", parent)
	for i := range s.Mounts {
		if s.Mounts[i].Destination == alias {
			s.Mounts[i].Source = "/etc"
		}
	}
	step("mount source edited", "bundle init checked")
	// Without the annotation (a bundle plugbox did not author) nothing is checked.
	delete(s.Annotations, AnnotationBinds)
	step("foreign bundle", "")
	s.Annotations[AnnotationBinds] = "{"
	step("bad annotation", AnnotationBinds)
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeIgnoresUnknownPropertiesAndCheckNamesThem(t *testing.T) {
	data := []byte(`{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/", "noNewPrivilege": true,
		"User": {"uid": 1}}, "root": {"path": "rootfs"}, "vendor": {"x": 1},
		"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "nmes": 1}]}},
		"annotations": {"any.key": "v"}, "mounts": [{"destination": "/x", "optoins": []}]}`)
	s, err := Decode("config.json", data)
	if err != nil {
		t.Fatalf("unknown properties must be ignored (runtime spec): %v", err)
	}
	if s.Process.User.UID != 1 {
		t.Errorf("case-insensitive field not decoded: %+v", s.Process.User)
	}
	got, err := UnknownProperties(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linux.seccomp.syscalls[0].nmes", "mounts[0].optoins", "process.noNewPrivilege", "vendor"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownProperties = %v, want %v", got, want)
	}
	b := t.TempDir()
	if err := os.WriteFile(filepath.Join(b, ConfigName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, findings, err := CheckFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !has(findings, Low, "process.noNewPrivilege", "not a property of the OCI runtime spec") {
		t.Errorf("check does not name the misspelled property:\n%s", render(findings))
	}
}

func TestLoadRefusesEarly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		want   string
	}{
		{"empty", "", "config.json is empty"},
		{"blank", " \n\t", "config.json is empty"},
		{"NUL in args", `{"root": {"path": "rootfs"}, "process": {"args": ["/bin/echo", "a\u0000b"], "cwd": "/"}}`, `"process.args[1]" contains a NUL byte`},
		{"NUL in env", `{"root": {"path": "rootfs"}, "process": {"args": ["/bin/echo"], "env": ["A=\u0000"], "cwd": "/"}}`, `"process.env[0]" contains a NUL byte`},
		{"bad timeout", `{"root": {"path": "rootfs"}, "process": {"args": ["/bin/echo"], "cwd": "/"}, "annotations": {"org.plugbox.timeout": "abc"}}`, `annotations["org.plugbox.timeout"] = "abc": not a positive duration`},
		{"negative timeout", `{"root": {"path": "rootfs"}, "process": {"args": ["/bin/echo"], "cwd": "/"}, "annotations": {"org.plugbox.timeout": "-5s"}}`, "org.plugbox.timeout"},
		{"good", `{"root": {"path": "rootfs"}, "process": {"args": ["/bin/echo"], "cwd": "/"}, "annotations": {"org.plugbox.timeout": "5s"}}`, ""},
	} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ConfigName)):
			t.Errorf("%s: %v, want an error naming %s with %q", tc.name, err, ConfigName, tc.want)
		}
	}
}

func TestCheckUsesSeccompgensNeverGrantedList(t *testing.T) {
	for _, name := range seccompgen.DeniedAlways() {
		s, err := Spec(DefaultManifest(), SpecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow})
		if fs := Check(s, ""); !has(fs, High, "linux.seccomp.syscalls", name) {
			t.Errorf("allowing %s is not High:\n%s", name, render(fs))
		}
	}
	// A learned profile with calls beyond every group is listed for review.
	s, err := Spec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"setuid", "vmsplice"}, Action: specs.ActAllow})
	if fs := Check(s, ""); !has(fs, Low, "linux.seccomp.syscalls", "beyond plugbox's permission groups") || !has(fs, Low, "linux.seccomp.syscalls", "setuid, vmsplice") {
		t.Errorf("calls beyond the groups not listed:\n%s", render(fs))
	}
	s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow})
	if fs := Check(s, ""); !has(fs, High, "linux.seccomp.syscalls", "personality is allowed without an argument filter") {
		t.Errorf("unconditional personality not High:\n%s", render(fs))
	}
}

func TestCheckFlagsSocketsBelowABindAndPassedDescriptors(t *testing.T) {
	dir, err := os.MkdirTemp("", "pb-sock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := DefaultManifest()
	m.Read = []string{dir}
	m.FDs = []string{"input"}
	s, err := Spec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs := Check(s, ""); has(fs, Medium, "mounts[", "unix socket") {
		t.Errorf("socket flagged in a directory without one:\n%s", render(fs))
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sub", "app.sock"))
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	fs := Check(s, "")
	if !has(fs, Medium, "mounts[", "holds the unix socket "+filepath.Join(dir, "sub", "app.sock")) {
		t.Errorf("socket below a read path not flagged:\n%s", render(fs))
	}
	if !has(fs, Low, "annotations["+AnnotationFDNames+"]", "AF_INET") {
		t.Errorf("passed descriptors with network none not flagged:\n%s", render(fs))
	}
}

func TestCheckFlagsASymlinkedRootfs(t *testing.T) {
	b := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(b, "rootfs")); err != nil {
		t.Fatal(err)
	}
	s, err := Spec(DefaultManifest(), SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs := Check(s, b); !has(fs, High, "root.path", "is a symbolic link to "+elsewhere) {
		t.Errorf("symlinked rootfs not High:\n%s", render(fs))
	}
}

func TestFileSizeLimit(t *testing.T) {
	m := DefaultManifest()
	if s, err := Spec(m, SpecOptions{}); err != nil || slices.ContainsFunc(s.Process.Rlimits, func(r specs.POSIXRlimit) bool { return r.Type == "RLIMIT_FSIZE" }) {
		t.Errorf("default manifest sets RLIMIT_FSIZE: %v", err)
	}
	dm, err := DecodeManifest("m.json", []byte(`{"name": "f", "command": ["/bin/f"], "limits": {"fileSize": "16M"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Spec(dm, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FSIZE", Hard: 16 << 20, Soft: 16 << 20}) {
		t.Errorf("rlimits = %+v, want RLIMIT_FSIZE 16M", s.Process.Rlimits)
	}
	if _, err := DecodeManifest("m.json", []byte("  \n")); err == nil || !strings.Contains(err.Error(), "m.json is empty") {
		t.Errorf("empty manifest: %v", err)
	}
}
