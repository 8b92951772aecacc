package bundle

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugbox/plugbox/internal/atomicfile"
)

// mountpoints are created in every assembled rootfs: the root filesystem
// is read-only at run time and may be owned by an id the container's root
// does not map to, so the runtime cannot create them itself.
var mountpoints = []string{"/proc", "/dev", "/tmp", "/sys", "/etc"}

// AssembleRootfs builds a minimal root filesystem in rootfs around the
// host executable exe, installed as /bin/<base name of exe>: the program,
// its ELF interpreter and every DT_NEEDED library (resolved like ld.so
// does, see libraryDirs), each at its host path with the host's symlinks
// reproduced, the mountpoints /proc, /dev, /tmp, /sys and /etc, and a small
// /etc (passwd, group, hosts) naming uid DefaultUID "plugin". A static
// binary needs nothing else. Libraries a program dlopen()s at run time
// (NSS modules, gconv) are not found: bind them with "read" or add them.
func AssembleRootfs(rootfs, exe string) error {
	dest := "/bin/" + filepath.Base(exe)
	if err := assemble(rootfs, exe, dest); err != nil {
		return err
	}
	return writeEtc(rootfs, "plugin", DefaultUID, DefaultGID)
}

// Init writes a complete bundle in dir: rootfs/ assembled around exe
// (installed at m.Command[0]) with a mountpoint for each read and write
// path, and config.json (mode 0644) from Spec(m, opts). A nil m means
// DefaultManifest named after exe with Command [/bin/<base name>]. Init
// refuses to replace an existing config.json (the error wraps
// fs.ErrExist) and checks that before touching the rootfs.
func Init(dir, exe string, m *Manifest, opts SpecOptions) error {
	if m == nil {
		m = DefaultManifest()
		base := filepath.Base(exe)
		m.Command = []string{"/bin/" + base}
		if validName(base) == nil {
			m.Name = base
		}
	}
	config := filepath.Join(dir, ConfigName)
	if _, err := os.Lstat(config); err == nil {
		return fmt.Errorf("bundle init: %s already exists: remove it or choose another directory: %w", config, fs.ErrExist)
	}
	opts.Rootfs = ""
	spec, err := Spec(m, opts)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fmt.Errorf("bundle init: encode config.json: %w", err)
	}
	data = append(data, '\n')

	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	if err := assemble(rootfs, exe, m.Command[0]); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	uid, gid := spec.Process.User.UID, spec.Process.User.GID
	if err := writeEtc(rootfs, m.Name, uid, gid); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	for _, p := range append(append([]string(nil), m.Read...), m.Write...) {
		if strings.HasPrefix(p, "/tmp/") {
			continue // the runtime creates it inside the /tmp tmpfs
		}
		if err := makeMountpoint(rootfs, p); err != nil {
			return fmt.Errorf("bundle init: mountpoint for %s: %w", p, err)
		}
	}
	if cwd := spec.Process.Cwd; cwd != "/" && validInsidePath("cwd", cwd) == nil {
		if err := mkdirIn(rootfs, cwd); err != nil {
			return fmt.Errorf("bundle init: cwd %s: %w", cwd, err)
		}
	}
	if err := atomicfile.Create(config, data, 0o644); err != nil {
		return fmt.Errorf("bundle init: %w (remove it or choose another directory)", err)
	}
	return nil
}

// writeEtc writes /etc/passwd, /etc/group and /etc/hosts naming the plugin.
func writeEtc(rootfs, name string, uid, gid uint32) error {
	if err := mkdirIn(rootfs, "/etc"); err != nil {
		return err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n"
	group := "root:x:0:\n"
	if uid != 0 {
		passwd += fmt.Sprintf("%s:x:%d:%d:plugbox plugin:/tmp:/sbin/nologin\n", name, uid, gid)
	}
	if gid != 0 {
		group += fmt.Sprintf("%s:x:%d:\n", name, gid)
	}
	passwd += "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	group += "nogroup:x:65534:\n"
	files := []struct{ name, data string }{
		{"passwd", passwd},
		{"group", group},
		{"hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
	}
	for _, f := range files {
		p := filepath.Join(rootfs, "etc", f.name)
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mkdirIn creates dir p (absolute, as seen in the sandbox) under rootfs,
// mode 0755, refusing to follow symlinks already in the rootfs out of it.
func mkdirIn(rootfs, p string) error {
	cur := rootfs
	for _, part := range strings.Split(strings.Trim(filepath.Clean(p), "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("%s exists and is not a directory", cur)
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(cur, 0o755); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// makeMountpoint creates in rootfs an empty directory or file matching the
// type of host path p, for a bind mount at the same path.
func makeMountpoint(rootfs, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return mkdirIn(rootfs, p)
	}
	if err := mkdirIn(rootfs, filepath.Dir(p)); err != nil {
		return err
	}
	target := filepath.Join(rootfs, p)
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// assembler copies host files into a rootfs at their host paths.
type assembler struct {
	rootfs  string
	class   elf.Class
	machine elf.Machine
	done    map[string]bool // host paths installed
}

// assemble installs host executable exe at dest inside rootfs with its
// interpreter and libraries, and the standard mountpoints.
func assemble(rootfs, exe, dest string) error {
	abs, err := filepath.Abs(exe)
	if err != nil {
		return fmt.Errorf("executable %s: %w", exe, err)
	}
	if err := validInsidePath("executable destination", dest); err != nil {
		return err
	}
	for _, mp := range mountpoints {
		if err := mkdirIn(rootfs, mp); err != nil {
			return fmt.Errorf("rootfs %s: %w", rootfs, err)
		}
	}
	// runc gives a tmpfs the mode of the directory it covers, ahead of the
	// mount's own mode= option, so /tmp must already be 1777 here.
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o777|fs.ModeSticky); err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	a := &assembler{rootfs: rootfs, done: map[string]bool{}}
	return a.program(abs, dest, 0)
}

// program installs the executable at host path exe as dest, then whatever
// it needs to run: the "#!" interpreter of a script, or the ELF loader
// and libraries of a dynamic executable.
func (a *assembler) program(exe, dest string, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: too many nested #! interpreters", exe)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("executable %s is not an executable regular file: pass --exec naming a program", exe)
	}
	if err := mkdirIn(a.rootfs, filepath.Dir(dest)); err != nil {
		return err
	}
	if err := copyFile(exe, filepath.Join(a.rootfs, dest), 0o755); err != nil {
		return err
	}
	head := make([]byte, 256)
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
			return fmt.Errorf("script %s has no absolute interpreter on its #! line", exe)
		}
		return a.program(fields[0], fields[0], depth+1)
	}
	return a.elf(exe)
}

// elf installs the loader and libraries the ELF file exe needs.
func (a *assembler) elf(exe string) error {
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("executable %s is neither ELF nor a #! script: %w", exe, err)
	}
	defer f.Close()
	a.class, a.machine = f.Class, f.Machine
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		raw, err := io.ReadAll(p.Open())
		if err != nil {
			return fmt.Errorf("%s: read PT_INTERP: %w", exe, err)
		}
		interp := string(bytes.TrimRight(raw, "\x00"))
		if !filepath.IsAbs(interp) {
			return fmt.Errorf("%s: interpreter %q is not absolute", exe, interp)
		}
		if err := a.install(interp); err != nil {
			return fmt.Errorf("%s: interpreter: %w", exe, err)
		}
	}
	exeRpath := rpathOf(f, exe)
	return a.libraries(f, exe, exeRpath)
}

// rpathOf returns f's DT_RPATH directories when it has no DT_RUNPATH (the
// loader ignores RPATH then), with $ORIGIN expanded.
func rpathOf(f *elf.File, path string) []string {
	if rp, _ := f.DynString(elf.DT_RUNPATH); len(rp) > 0 {
		return nil
	}
	rp, _ := f.DynString(elf.DT_RPATH)
	return expandPaths(rp, path)
}

// expandPaths splits colon lists and expands $ORIGIN to the directory of
// the object's real path; entries with other tokens ($LIB, $PLATFORM) or
// relative entries are dropped.
func expandPaths(lists []string, object string) []string {
	origin := filepath.Dir(object)
	if real, err := filepath.EvalSymlinks(object); err == nil {
		origin = filepath.Dir(real)
	}
	var out []string
	for _, l := range lists {
		for _, d := range strings.Split(l, ":") {
			d = strings.ReplaceAll(d, "${ORIGIN}", origin)
			d = strings.ReplaceAll(d, "$ORIGIN", origin)
			if d == "" || strings.Contains(d, "$") || !filepath.IsAbs(d) {
				continue
			}
			out = append(out, filepath.Clean(d))
		}
	}
	return out
}

// libraries installs, recursively, the DT_NEEDED libraries of f (at host
// path obj). inherited is the executable's DT_RPATH, which applies to every
// object it loads.
func (a *assembler) libraries(f *elf.File, obj string, inherited []string) error {
	needed, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: read DT_NEEDED: %w", obj, err)
	}
	var search []string
	search = append(search, rpathOf(f, obj)...)
	search = append(search, inherited...)
	if rp, _ := f.DynString(elf.DT_RUNPATH); len(rp) > 0 {
		search = append(search, expandPaths(rp, obj)...)
	}
	search = append(search, libraryDirs(f.Machine)...)
	for _, name := range needed {
		lib, err := a.find(name, search)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", obj, name, err)
		}
		if a.done[lib] {
			continue
		}
		if err := a.install(lib); err != nil {
			return fmt.Errorf("%s needs %s: %w", obj, name, err)
		}
		lf, err := elf.Open(lib)
		if err != nil {
			return fmt.Errorf("library %s: %w", lib, err)
		}
		err = a.libraries(lf, lib, inherited)
		lf.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// find returns the first file called name in dirs that is an ELF object
// of the executable's class and machine, as ld.so skips the others.
func (a *assembler) find(name string, dirs []string) (string, error) {
	if strings.Contains(name, "/") {
		if filepath.IsAbs(name) {
			return name, nil
		}
		return "", fmt.Errorf("relative library path %q is not supported", name)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		lf, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := lf.Class == a.class && lf.Machine == a.machine
		lf.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s (ld.so.cache and LD_LIBRARY_PATH are not consulted: install it in a standard directory or set DT_RUNPATH)", strings.Join(dirs, ", "))
}

// libraryDirs returns the loader's standard directories for machine: the
// Debian multiarch ones, then /lib64 and /usr/lib64, then /lib and
// /usr/lib. ld.so finds these even without an /etc/ld.so.cache, which an
// assembled rootfs does not have.
func libraryDirs(m elf.Machine) []string {
	var dirs []string
	if t := multiarch(m); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

// multiarch returns the Debian multiarch triplet for machine.
func multiarch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case elf.EM_RISCV:
		return "riscv64-linux-gnu"
	case elf.EM_PPC64:
		return "powerpc64le-linux-gnu"
	case elf.EM_S390:
		return "s390x-linux-gnu"
	}
	return ""
}

// install copies host file p into the rootfs at the same path, walking it
// component by component like the kernel: each symlink met on the way is
// recreated in the rootfs with the same target (so the names the loader
// asks for, such as /lib64/ld-linux-x86-64.so.2 or a merged-/usr /lib,
// resolve there too) and then followed; the final file is copied.
func (a *assembler) install(p string) error {
	if a.done[p] {
		return nil
	}
	rest := splitPath(p)
	cur := "/"
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		inRoot := filepath.Join(a.rootfs, next)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if err := a.symlink(inRoot, target); err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(splitPath(target), rest...)
		case fi.IsDir():
			if err := mkdirIn(a.rootfs, next); err != nil {
				return err
			}
			cur = next
		case fi.Mode().IsRegular():
			if len(rest) > 0 {
				return fmt.Errorf("%s: %s is not a directory", p, next)
			}
			mode := fi.Mode().Perm() & 0o755
			if err := copyFile(next, inRoot, mode|0o444); err != nil {
				return err
			}
			a.done[p], a.done[next] = true, true
			return nil
		default:
			return fmt.Errorf("%s: %s is not a regular file", p, next)
		}
	}
	return fmt.Errorf("%s is a directory, not a file", p)
}

// symlink creates link -> target unless the same link already exists.
func (a *assembler) symlink(link, target string) error {
	if old, err := os.Readlink(link); err == nil {
		if old == target {
			return nil
		}
		return fmt.Errorf("rootfs %s already links to %q, but the host's links to %q: assemble into an empty rootfs", link, old, target)
	}
	if fi, err := os.Lstat(link); err == nil {
		return fmt.Errorf("rootfs %s exists as a %s, but on the host it is a symlink to %q: assemble into an empty rootfs", link, fi.Mode().Type(), target)
	}
	return os.Symlink(target, link)
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// copyFile copies regular file src to dst with mode (setuid, setgid and
// sticky bits are never copied), replacing dst.
func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Chmod(mode.Perm()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
