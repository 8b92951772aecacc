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
	"path"
	"path/filepath"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountpoints are created in every assembled rootfs: the root filesystem
// is read-only at run time and may be owned by an id the container's root
// does not map to, so the runtime cannot create them itself.
var mountpoints = []string{"/proc", "/dev", "/tmp", "/sys", "/etc"}

// Modes of the installed plugin executable. An ELF program needs only the
// execute bit: the kernel maps it, and a plugin that cannot read its own
// executable stays non-dumpable after execve (no ptrace or /proc/PID/mem
// from another process of its uid; see Manifest.ReadableExecutable for
// what it costs). A script must be readable by its interpreter.
const (
	elfProgramMode    = 0o111
	readableMode      = 0o555
	scriptProgramMode = readableMode
)

// InitOptions are the choices Init takes beyond the manifest.
type InitOptions struct {
	// Spec describes the caller who will start the sandbox.
	Spec SpecOptions
	// AllowUntrustedFiles lets Init copy an ELF interpreter, library or
	// "#!" interpreter that is not a root-owned, world-readable regular file
	// in directories every user may enter. Its copy becomes readable by the
	// plugin (and keeps its host mode in the bundle); without this option
	// Init refuses such a file, because the program, not the caller, names it.
	AllowUntrustedFiles bool
	// Progress, when set, is told each file Init copies into the rootfs and
	// each host directory it binds for an interpreter, as it goes.
	Progress func(InitStep)
}

// InitStep is one thing Init did, reported to InitOptions.Progress.
type InitStep struct {
	// Action is StepCopy, StepBind or StepSkip.
	Action string
	// Path is the host path copied (to the same path in the rootfs, or to
	// the plugin's command[0]) or bound.
	Path string
	// Dest is where a copied file went in the rootfs.
	Dest string
	// Size is the bytes copied.
	Size int64
	// Why says why: "the plugin", "needed by /usr/bin/python3.11",
	// "python3's library directory".
	Why string
}

// Actions of an InitStep.
const (
	StepCopy = "copy" // a file copied into the rootfs
	StepBind = "bind" // a host directory bound read-only at the same path
	StepSkip = "skip" // a library an interpreter's extension module names that the host lacks
)

// AssembleRootfs builds a minimal root filesystem in the new directory
// rootfs (it must not exist) around the host executable exe, installed as
// /bin/<base name of exe>, with the same rules as Init: see assembler.
func AssembleRootfs(rootfs, exe string) error {
	prog, err := openProgram(exe)
	if err != nil {
		return err
	}
	defer prog.close()
	abs, err := filepath.Abs(rootfs)
	if err != nil {
		return err
	}
	parent, err := openTree(filepath.Dir(abs))
	if err != nil {
		return err
	}
	defer parent.close()
	root, err := parent.subtree(filepath.Base(abs))
	if err != nil {
		return err
	}
	defer root.close()
	err = newAssembler(root, true).assemble(prog, "/bin/"+filepath.Base(prog.path), false)
	if err == nil {
		err = writeEtc(root, "plugin", DefaultUID, DefaultGID)
	}
	if err != nil {
		os.RemoveAll(abs)
	}
	return err
}

// Init writes a complete bundle in dir: rootfs/ assembled around exe
// (installed at m.Command[0]) with a mountpoint for each read and write
// path, and config.json (mode 0644) from Spec(m, opts.Spec). A nil m means
// DefaultManifest named after exe with Command [/bin/<base name>].
//
// dir must not exist (Init creates it) or be an empty directory, not a
// symbolic link, owned by the caller and writable by no one else: a
// non-empty one is refused with an error wrapping fs.ErrExist. Every file
// is created fresh through descriptors relative to dir, never following a
// symbolic link, so nothing planted in or around dir can redirect a write.
// Everything about the input that can be checked first is checked before
// dir is touched, and a failed Init removes what it created.
func Init(dir, exe string, m *Manifest, opts InitOptions) (err error) {
	if m == nil {
		m = DefaultManifest()
		base := filepath.Base(exe)
		m.Command = []string{"/bin/" + base}
		if validName(base) == nil {
			m.Name = base
		}
	}
	return initBundle(dir, exe, m, opts, Spec, runtime.GOOS == "linux")
}

// initBundle is Init with the config.json written by makeSpec (Linux's
// Spec, or FreeBSDSpec): the same rootfs assembly rules for both. native
// says the bundle is for this host's system, so its interpreters can be
// asked where they load from.
func initBundle(dir, exe string, m *Manifest, opts InitOptions, makeSpec func(*Manifest, SpecOptions) (*specs.Spec, error), native bool) (err error) {
	prog, err := openProgram(exe)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	defer prog.close()
	var needs *interpreterNeeds
	if native {
		if needs, err = prog.interpreterNeeds(!opts.AllowUntrustedFiles); err != nil {
			return fmt.Errorf("bundle init: %w", err)
		}
		m = needs.addReads(m)
	}
	opts.Spec.Rootfs = ""
	spec, err := makeSpec(m, opts.Spec)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	binds, err := ParseBinds(spec.Annotations)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fmt.Errorf("bundle init: encode config.json: %w", err)
	}
	data = append(data, '\n')

	b, err := makeBundleDir(dir)
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	defer func() {
		if err != nil {
			b.discard()
		}
		b.tree.close()
	}()
	root, err := b.tree.subtree("rootfs")
	if err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	defer root.close()
	a := newAssembler(root, !opts.AllowUntrustedFiles)
	a.progress = opts.Progress
	if err := a.assemble(prog, m.Command[0], m.ReadableExecutable); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	if err := a.interpreterNeeds(needs); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	uid, gid := spec.Process.User.UID, spec.Process.User.GID
	if err := writeEtc(root, m.Name, uid, gid); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	for _, bind := range binds {
		if strings.HasPrefix(bind.Path, "/tmp/") {
			continue // the runtime creates it inside the /tmp tmpfs
		}
		if err := makeMountpoint(root, bind.Path, bind.Dir); err != nil {
			return fmt.Errorf("bundle init: mountpoint for %s: %w", bind.Path, err)
		}
	}
	if cwd := spec.Process.Cwd; cwd != "/" && validInsidePath("cwd", cwd) == nil {
		if err := root.mkdirAll(cwd, 0o755); err != nil {
			return fmt.Errorf("bundle init: cwd %s: %w", cwd, err)
		}
	}
	if err := b.tree.placeFile(ConfigName, data, 0o644); err != nil {
		return fmt.Errorf("bundle init: %w", err)
	}
	return nil
}

// bundleDir is the directory Init writes, opened once.
type bundleDir struct {
	tree *dirTree
	// created is the top-most directory Init made (dir or an ancestor),
	// removed whole when Init fails; "" when dir already existed.
	created string
}

// makeBundleDir creates dir, or opens an existing empty directory that
// only the caller can write (see Init).
func makeBundleDir(dir string) (*bundleDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b := &bundleDir{}
	fi, err := os.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		top := abs
		for p := filepath.Dir(abs); p != filepath.Dir(p); p = filepath.Dir(p) {
			if _, err := os.Lstat(p); err == nil {
				break
			}
			top = p
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, err
		}
		if err := os.Mkdir(abs, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", abs, err)
		}
		b.created = top
		if fi, err = os.Lstat(abs); err != nil {
			os.RemoveAll(top)
			return nil, err
		}
	case err != nil:
		return nil, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a symbolic link: bundle init writes only into a directory it creates or an empty one you own; pass a new path", abs)
	case !fi.IsDir():
		return nil, fmt.Errorf("%s exists and is not a directory: %w", abs, fs.ErrExist)
	}
	tree, err := openTree(abs)
	if err == nil {
		b.tree = tree
		err = b.check(fi)
	}
	if err != nil {
		b.discard()
		if b.tree != nil {
			b.tree.close()
		}
		return nil, err
	}
	return b, nil
}

// check verifies that the opened directory is the one looked up, that
// only the caller can write it and that it is empty (also for one Init has
// just created: someone who could write its parent might have swapped it).
func (b *bundleDir) check(looked fs.FileInfo) error {
	var st unix.Stat_t
	if err := unix.Fstat(b.tree.fd, &st); err != nil {
		return err
	}
	lst, ok := looked.Sys().(*unix.Stat_t)
	if ok && (uint64(lst.Dev) != uint64(st.Dev) || uint64(lst.Ino) != uint64(st.Ino)) {
		return fmt.Errorf("%s was replaced while bundle init opened it: choose a directory no one else can write", b.tree.name)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, who could swap files in it while plugbox (uid %d) writes the bundle: pass a path that does not exist yet (bundle init creates it) or a directory you own", b.tree.name, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s (mode %04o) is writable by other users, who could swap files in it while plugbox writes the bundle: pass a path that does not exist yet, or chmod go-w it", b.tree.name, st.Mode&0o7777)
	}
	fd, err := unix.Dup(b.tree.fd)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), b.tree.name)
	defer d.Close()
	names, err := d.Readdirnames(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", b.tree.name, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%s is not empty (it holds %s): bundle init builds a bundle only in a new or empty directory, so nothing already there can redirect its writes; remove it or choose another directory: %w", b.tree.name, strings.Join(names, ", "), fs.ErrExist)
	}
	return nil
}

// discard removes what a failed Init wrote: the directories it created,
// or else the rootfs and temporary files inside the existing directory.
func (b *bundleDir) discard() {
	if b.created != "" {
		os.RemoveAll(b.created)
		return
	}
	if b.tree != nil {
		os.RemoveAll(filepath.Join(b.tree.name, "rootfs"))
		os.Remove(filepath.Join(b.tree.name, "."+ConfigName+".new"))
	}
}

// subtree creates the new directory name (mode 0755) in t and opens it.
func (t *dirTree) subtree(name string) (*dirTree, error) {
	if err := unix.Mkdirat(t.fd, name, 0o755); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("%s already exists: the root filesystem is always built in a new directory; remove it or choose another: %w", t.where(name), fs.ErrExist)
		}
		return nil, t.pathError("mkdir", name, err)
	}
	fd, err := openBeneath(t.fd, name, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		return nil, t.pathError("open", name, err)
	}
	if err := unix.Fchmod(fd, 0o755); err != nil {
		unix.Close(fd)
		return nil, t.pathError("chmod", name, err)
	}
	return &dirTree{fd: fd, name: t.where(name)}, nil
}

// writeEtc writes /etc/passwd, /etc/group and /etc/hosts naming the plugin.
func writeEtc(root *dirTree, name string, uid, gid uint32) error {
	if err := root.mkdirAll("etc", 0o755); err != nil {
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
	for _, f := range []struct{ name, data string }{
		{"passwd", passwd},
		{"group", group},
		{"hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
	} {
		if err := root.writeFile("etc/"+f.name, []byte(f.data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// makeMountpoint creates at p in the rootfs an empty directory, or an
// empty file when the bind source is not a directory.
func makeMountpoint(root *dirTree, p string, dir bool) error {
	if dir {
		return root.mkdirAll(p, 0o755)
	}
	if err := root.mkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	if root.exists(p) {
		return nil
	}
	f, err := root.create(p, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// program is the caller's executable, opened once: what Init checks is
// what it copies.
type program struct {
	f      *os.File
	path   string // absolute host path as given
	size   int64  // bytes
	interp string // the "#!" interpreter of a script, "" for ELF
	// interpArgs are the words after the interpreter on the "#!" line.
	interpArgs []string
	elf        *elf.File // the parsed ELF file, nil for a script
}

func (p *program) close() { p.f.Close() }

// openProgram opens and checks the executable the caller passed: a
// regular file with an execute bit, either ELF or a "#!" script with an
// absolute interpreter.
func openProgram(exe string) (*program, error) {
	abs, err := filepath.Abs(exe)
	if err != nil {
		return nil, fmt.Errorf("executable %s: %w", exe, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("executable: %w: pass --exec naming a program", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		f.Close()
		return nil, fmt.Errorf("executable %s is not an executable regular file: pass --exec naming a program", exe)
	}
	p := &program{f: f, path: abs, size: fi.Size()}
	words, script, err := shebangLine(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("script %s: %w", exe, err)
	}
	if script {
		p.interp, p.interpArgs = words[0], words[1:]
		return p, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("executable %s is neither ELF nor a #! script: %w", exe, err)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		f.Close()
		return nil, fmt.Errorf("executable %s is an ELF %s, not a program", exe, ef.Type)
	}
	p.elf = ef
	return p, nil
}

// shebang reads the "#!" line of f, if any, and returns its interpreter.
func shebang(f io.ReaderAt) (interp string, script bool, err error) {
	words, script, err := shebangLine(f)
	if !script || err != nil {
		return "", script, err
	}
	return words[0], true, nil
}

// shebangLine reads the "#!" line of f, if any, and returns its words: the
// absolute interpreter (cleaned), then its arguments.
func shebangLine(f io.ReaderAt) (words []string, script bool, err error) {
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return nil, false, nil
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
		return nil, true, errors.New("its #! line names no absolute interpreter")
	}
	fields[0] = filepath.Clean(fields[0])
	return fields, true, nil
}

// assembler copies the plugin and what it needs to run into a new rootfs:
//
//   - the caller's executable at its destination, mode 0111 (ELF, unless
//     the manifest asks for a readable one) or 0555 (script), owned by the
//     caller;
//   - for ELF: only the first PT_INTERP (the one the kernel uses), which
//     must be an ELF shared object of the executable's class and machine,
//     and every DT_NEEDED library, looked up by name only in the loader's
//     standard directories (libraryDirs). A DT_NEEDED that is a path, and
//     DT_RPATH/DT_RUNPATH, are never taken from the file: the program
//     does not choose which host files are copied;
//   - for a script: its "#!" interpreter (and that one's own needs);
//   - each file the program names at its host path, the host's symlinks
//     on the way reproduced, with its host mode (setuid, setgid, sticky and
//     group/other write bits dropped, nothing added), and only when it is
//     a root-owned, world-readable regular file in directories every user
//     can enter (trusted), since its copy becomes readable in the sandbox.
//
// Libraries a program dlopen()s at run time (NSS modules, gconv) are not
// found: bind them with "read". The rootfs has no ld.so.cache, so a
// library only the host's cache finds elsewhere would not load in the
// sandbox either; the standard directories are what the sandbox's loader
// searches.
type assembler struct {
	root    *dirTree
	trusted bool // refuse host files not every user may read
	class   elf.Class
	machine elf.Machine
	done    map[string]bool // host paths installed
	// progress, when set, is told each file copied.
	progress func(InitStep)
	// from and why name, for progress, the host file being copied (when
	// not at its destination's path) and what it is for.
	from, why string
}

func newAssembler(root *dirTree, trusted bool) *assembler {
	return &assembler{root: root, trusted: trusted, done: map[string]bool{}}
}

// assemble creates the standard mountpoints and installs p at dest,
// execute-only unless readable (or a script).
func (a *assembler) assemble(p *program, dest string, readable bool) error {
	if err := validInsidePath("executable destination", dest); err != nil {
		return err
	}
	for _, mp := range mountpoints {
		if err := a.root.mkdirAll(mp, 0o755); err != nil {
			return err
		}
	}
	// runc gives a tmpfs the mode of the directory it covers, ahead of the
	// mount's own mode= option, so /tmp must already be 1777 here.
	if err := a.root.chmod("tmp", 0o777|unix.S_ISVTX); err != nil {
		return err
	}
	mode := uint32(elfProgramMode)
	switch {
	case p.elf == nil:
		mode = scriptProgramMode
	case readable:
		mode = readableMode
	}
	if err := a.root.mkdirAll(path.Dir(dest), 0o755); err != nil {
		return err
	}
	a.from, a.why = p.path, "the plugin"
	err := a.copyTo(dest, io.NewSectionReader(p.f, 0, p.size), mode)
	a.from, a.why = "", ""
	if err != nil {
		return fmt.Errorf("install %s: %w", p.path, err)
	}
	if p.elf == nil {
		if err := a.scriptInterpreter(p.interp, p.path, 1); err != nil {
			return err
		}
		// "#!/usr/bin/env python3": env finds python3 on the plugin's PATH.
		exe, err := p.scriptInterpreter()
		if err != nil || exe == p.interp {
			return err
		}
		return a.scriptInterpreter(exe, p.path, 1)
	}
	a.class, a.machine = p.elf.Class, p.elf.Machine
	return a.elfNeeds(p.elf, p.path)
}

// scriptInterpreter installs the "#!" interpreter of script at its own
// path, and what it needs in turn.
func (a *assembler) scriptInterpreter(interp, script string, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: too many nested #! interpreters", script)
	}
	if a.done[interp] {
		return nil
	}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return fmt.Errorf("%s names interpreter %s: %w", script, interp, err)
	}
	src, err := a.openHost(real, script)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s names interpreter %s, which is not executable", script, interp)
	}
	next, isScript, err := shebang(src)
	if err != nil {
		return fmt.Errorf("interpreter %s: %w", interp, err)
	}
	var ef *elf.File
	if !isScript {
		if ef, err = elf.NewFile(src); err != nil {
			return fmt.Errorf("%s names interpreter %s, which is neither ELF nor a #! script: %w", script, interp, err)
		}
	}
	if err := a.root.mkdirAll(path.Dir(interp), 0o755); err != nil {
		return err
	}
	a.why = "the interpreter of " + script
	err = a.copyTo(interp, io.NewSectionReader(src, 0, fi.Size()), hostMode(fi))
	a.why = ""
	if err != nil {
		return fmt.Errorf("install %s: %w", interp, err)
	}
	a.done[interp] = true
	if isScript {
		return a.scriptInterpreter(next, interp, depth+1)
	}
	if a.class == elf.ELFCLASSNONE {
		a.class, a.machine = ef.Class, ef.Machine
	}
	return a.elfNeeds(ef, real)
}

// elfNeeds installs the loader and the libraries ELF program ef (at host
// path obj) needs.
func (a *assembler) elfNeeds(ef *elf.File, obj string) error {
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil {
			return fmt.Errorf("%s: read PT_INTERP: %w", obj, err)
		}
		interp := string(bytes.TrimRight(raw, "\x00"))
		if !filepath.IsAbs(interp) {
			return fmt.Errorf("%s: interpreter %q is not absolute", obj, interp)
		}
		lf, err := a.install(interp, obj)
		if err != nil {
			return fmt.Errorf("%s: interpreter: %w", obj, err)
		}
		if lf != nil {
			isLoader := lf.Type == elf.ET_DYN
			lf.Close()
			if !isLoader {
				return fmt.Errorf("%s: interpreter %s is an ELF %s, not a shared object", obj, interp, lf.Type)
			}
		}
		break // the kernel uses only the first PT_INTERP
	}
	return a.libraries(ef, obj)
}

// libraries installs, recursively, the DT_NEEDED libraries of ef (at host
// path obj).
func (a *assembler) libraries(ef *elf.File, obj string) error {
	return a.neededLibraries(ef, obj, nil)
}

// neededLibraries installs the DT_NEEDED libraries of ef (obj names it in
// messages) and theirs in turn. A name the loader's standard directories
// lack is an error, unless missing is set: it is then told the name and
// the closure goes on without it.
func (a *assembler) neededLibraries(ef *elf.File, obj string, missing func(name string)) error {
	needed, err := ef.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: read DT_NEEDED: %w", obj, err)
	}
	for _, name := range needed {
		lib, err := a.find(name)
		if err != nil {
			if missing == nil {
				return fmt.Errorf("%s needs %s: %w", obj, name, err)
			}
			missing(name)
			continue
		}
		if a.done[lib] {
			continue
		}
		lf, err := a.install(lib, obj)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", obj, name, err)
		}
		if lf == nil {
			continue
		}
		err = a.libraries(lf.File, lib)
		lf.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// find returns the first file called name in the loader's standard
// directories that is an ELF object of the executable's class and
// machine, as ld.so skips the others.
func (a *assembler) find(name string) (string, error) {
	dirs := libraryDirs(a.machine)
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("DT_NEEDED %q is a path: plugbox takes libraries only by name from the loader's standard directories (%s), never from a path the ELF file names; link against the library by its soname", name, strings.Join(dirs, ", "))
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
	return "", fmt.Errorf("not found in the loader's standard directories %s (DT_RPATH, DT_RUNPATH, LD_LIBRARY_PATH and ld.so.cache entries elsewhere are not followed: bind its directory with \"read\" and set LD_LIBRARY_PATH in \"env\")", strings.Join(dirs, ", "))
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

// hostELF is an ELF file read from an open host file.
type hostELF struct {
	*elf.File
	f *os.File
}

func (h *hostELF) Close() error { return h.f.Close() }

// install copies host file p, an ELF object named by obj, into the rootfs
// at the same path, walking it component by component like the kernel:
// each symlink met on the way is recreated in the rootfs with the same
// target (so the names the loader asks for, such as
// /lib64/ld-linux-x86-64.so.2 or a merged-/usr /lib, resolve there too)
// and then followed; the final file is checked and copied. It returns the
// parsed source, or nil when that file was already installed.
func (a *assembler) install(p, obj string) (*hostELF, error) {
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
			return nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return nil, fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return nil, err
			}
			if err := a.root.symlink(target, next); err != nil {
				return nil, fmt.Errorf("%w: assemble into an empty rootfs", err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(splitPath(target), rest...)
		case fi.IsDir():
			if err := a.root.mkdirAll(next, 0o755); err != nil {
				return nil, err
			}
			cur = next
		case fi.Mode().IsRegular():
			if len(rest) > 0 {
				return nil, fmt.Errorf("%s: %s is not a directory", p, next)
			}
			if a.done[next] {
				a.done[p] = true
				return nil, nil
			}
			h, err := a.copyELF(next, obj)
			if err != nil {
				return nil, err
			}
			a.done[p], a.done[next] = true, true
			return h, nil
		default:
			return nil, fmt.Errorf("%s: %s is not a regular file", p, next)
		}
	}
	return nil, fmt.Errorf("%s is a directory, not a file", p)
}

// copyELF checks host file real (no symlinks in its path), which must be
// an ELF object of the executable's class and machine, and copies it to
// the same path in the rootfs from the descriptor it checked.
func (a *assembler) copyELF(real, obj string) (*hostELF, error) {
	f, err := a.openHost(real, obj)
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not an ELF object: %w", real, err)
	}
	if ef.Class != a.class || ef.Machine != a.machine {
		f.Close()
		return nil, fmt.Errorf("%s is %s %s, but the program is %s %s", real, ef.Class, ef.Machine, a.class, a.machine)
	}
	fi, err := f.Stat()
	if err == nil {
		a.why = "needed by " + obj
		err = a.copyTo(real, io.NewSectionReader(f, 0, fi.Size()), hostMode(fi))
		a.why = ""
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("install %s: %w", real, err)
	}
	return &hostELF{File: ef, f: f}, nil
}

// openHost opens host file p, named by obj, without following a final
// symlink, and unless the caller allowed untrusted files, refuses one that
// not every local user could read anyway: its copy will be readable by the
// plugin and, in the bundle, by everyone.
func (a *assembler) openHost(p, obj string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s names %s: %w", obj, p, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	why := ""
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = "not a regular file"
	case !a.trusted:
	case st.Uid != 0:
		why = fmt.Sprintf("owned by uid %d, not root", st.Uid)
	case st.Mode&0o004 == 0:
		why = fmt.Sprintf("mode %04o, not readable by every user", st.Mode&0o7777)
	default:
		why = unsearchableParent(p)
	}
	if why != "" {
		f.Close()
		fix := "plugbox copies only root-owned, world-readable files a program names, because the copy becomes readable by the plugin and every local user; pass --allow-untrusted-files to copy it anyway"
		if !a.trusted {
			fix = "plugbox copies only regular files"
		}
		return nil, fmt.Errorf("%s names %s, which is %s: %s", obj, p, why, fix)
	}
	return f, nil
}

// unsearchableParent names the first directory above p that not every
// user may enter, or returns "".
func unsearchableParent(p string) string {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Sprintf("below %s, which cannot be checked (%v)", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Sprintf("below %s (mode %04o), which not every user may enter", d, fi.Mode().Perm())
		}
		if d == "/" {
			return ""
		}
	}
}

// hostMode is the mode a copy of a host file gets: its own permission
// bits without setuid, setgid, sticky and group or other write; never more.
func hostMode(fi fs.FileInfo) uint32 {
	return uint32(fi.Mode().Perm() & 0o755)
}

// copyTo writes the new file dest in the rootfs with content src and mode.
func (a *assembler) copyTo(dest string, src io.Reader, mode uint32) error {
	out, err := a.root.create(dest, mode)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, src)
	if err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	a.report(InitStep{Action: StepCopy, Path: a.from, Dest: dest, Size: n, Why: a.why})
	return nil
}

// report tells the progress callback about step.
func (a *assembler) report(step InitStep) {
	if a.progress == nil {
		return
	}
	if step.Path == "" {
		step.Path = step.Dest
	}
	a.progress(step)
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}
