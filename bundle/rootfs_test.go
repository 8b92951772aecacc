package bundle

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// needExe skips the test when the host lacks p.
func needExe(t *testing.T, p string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("rootfs assembly tests read Linux ELF executables")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not installed (apt-get install jq busybox-static): %v", p, err)
	}
}

// exists fails the test unless p exists in rootfs (following its symlinks
// inside the rootfs, as the loader would).
func exists(t *testing.T, rootfs, p string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(rootfs, p)); err != nil {
		t.Errorf("%s missing in rootfs: %v", p, err)
		return
	}
	if _, err := resolveIn(rootfs, p); err != nil {
		t.Errorf("%s does not resolve inside the rootfs: %v", p, err)
	}
}

// resolveIn follows p's symlinks treating rootfs as "/".
func resolveIn(rootfs, p string) (string, error) {
	cur := "/"
	rest := splitPath(p)
	for n := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(filepath.Join(rootfs, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if n++; n > 40 {
			return "", errors.New("symlink loop")
		}
		target, _ := os.Readlink(filepath.Join(rootfs, next))
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(splitPath(target), rest...)
	}
	return cur, nil
}

func TestAssembleDynamic(t *testing.T) {
	needExe(t, "/usr/bin/jq")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := AssembleRootfs(rootfs, "/usr/bin/jq"); err != nil {
		t.Fatal(err)
	}
	exists(t, rootfs, "/bin/jq")
	exists(t, rootfs, "/lib64/ld-linux-x86-64.so.2")
	for _, mp := range []string{"/proc", "/dev", "/tmp", "/sys", "/etc/passwd", "/etc/group", "/etc/hosts"} {
		exists(t, rootfs, mp)
	}
	// Every library ldd names must be there at the path ldd resolved.
	out, err := exec.Command("ldd", "/usr/bin/jq").Output()
	if err != nil {
		t.Skipf("ldd: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if _, after, ok := strings.Cut(line, "=> "); ok {
			lib := strings.Fields(after)[0]
			if filepath.IsAbs(lib) {
				exists(t, rootfs, lib)
				n++
			}
		}
	}
	if n < 2 {
		t.Errorf("ldd listed %d libraries for jq, want libjq and libc at least:\n%s", n, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc/passwd"))
	if !strings.Contains(string(passwd), "plugin:x:1000:1000:") {
		t.Errorf("/etc/passwd lacks the plugin user:\n%s", passwd)
	}
	// A rootfs is always built fresh: an existing one is never reused.
	if err := AssembleRootfs(rootfs, "/usr/bin/jq"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second assembly into the same rootfs: %v, want fs.ErrExist", err)
	}
}

func TestAssembleStatic(t *testing.T) {
	needExe(t, "/bin/busybox")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := AssembleRootfs(rootfs, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	exists(t, rootfs, "/bin/busybox")
	// Execute-only: the plugin cannot read its executable, so the kernel
	// keeps it non-dumpable after execve.
	fi, err := os.Stat(filepath.Join(rootfs, "bin/busybox"))
	if err != nil || fi.Mode().Perm() != 0o111 {
		t.Errorf("busybox mode = %v, %v; want 0111", fi.Mode(), err)
	}
	var files []string
	_ = filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, rootfs))
		}
		return nil
	})
	want := []string{"/bin/busybox", "/etc/group", "/etc/hosts", "/etc/passwd"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("static rootfs holds %v, want only %v", files, want)
	}
}

func TestAssembleErrors(t *testing.T) {
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := AssembleRootfs(rootfs, filepath.Join(rootfs, "missing")); err == nil {
		t.Error("missing executable accepted")
	}
	text := filepath.Join(t.TempDir(), "notes")
	if err := os.WriteFile(text, []byte("hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := AssembleRootfs(rootfs, text); err == nil || !strings.Contains(err.Error(), "neither ELF") {
		t.Errorf("non-ELF executable: %v", err)
	}
}

func TestInit(t *testing.T) {
	needExe(t, "/usr/bin/jq")
	dir := filepath.Join(t.TempDir(), "bundle")
	// Host paths under /tmp get no mountpoint in the rootfs (the runtime
	// makes them inside the /tmp tmpfs), so use a directory elsewhere.
	outside, err := os.MkdirTemp("/var/tmp", "plugbox-test-")
	if err != nil {
		t.Skipf("need a directory outside /tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	data := filepath.Join(outside, "out")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(outside, "input.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := DefaultManifest()
	m.Name = "jq"
	m.Command = []string{"/usr/bin/jq", "."}
	m.Read = []string{file}
	m.Write = []string{data}
	m.Cwd = "/work"
	m.Write = append(m.Write, t.TempDir())
	if err := Init(dir, "/usr/bin/jq", m, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	spec, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := RootfsPath(dir, spec)
	exists(t, rootfs, "/usr/bin/jq")
	exists(t, rootfs, "/work")
	if fi, err := os.Stat(filepath.Join(rootfs, file)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("file mountpoint for %s: %v", file, err)
	}
	if fi, err := os.Stat(filepath.Join(rootfs, data)); err != nil || !fi.IsDir() {
		t.Errorf("dir mountpoint for %s: %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, m.Write[1])); err == nil {
		t.Errorf("mountpoint for %s created below the rootfs /tmp", m.Write[1])
	}
	if fi, err := os.Stat(filepath.Join(rootfs, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("rootfs /tmp mode: %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, ConfigName)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("config.json mode: %v, %v", fi, err)
	}
	if fs := Check(spec, dir); Worst(fs) > Low {
		t.Errorf("Init's bundle has findings above Low:\n%s", render(fs))
	}
	err = Init(dir, "/usr/bin/jq", m, InitOptions{})
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Init: %v, want fs.ErrExist", err)
	}

	// Without a manifest the executable names the plugin.
	dir2 := filepath.Join(t.TempDir(), "b2")
	if err := Init(dir2, "/usr/bin/jq", nil, InitOptions{Spec: SpecOptions{Rootless: true, HostUID: 1000, HostGID: 1000}}); err != nil {
		t.Fatal(err)
	}
	spec2, err := Load(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if spec2.Process.Args[0] != "/bin/jq" || spec2.Annotations[AnnotationAuthored] != "jq" {
		t.Errorf("default manifest: args %v, name %q", spec2.Process.Args, spec2.Annotations[AnnotationAuthored])
	}
}
