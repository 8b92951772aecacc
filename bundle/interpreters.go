package bundle

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// A script plugin needs more than its interpreter's executable and shared
// libraries: Python its standard library, Perl its @INC, Lua its module
// path. bundle init recognises the interpreters of this table (the
// program itself, or a script's "#!" interpreter, also through
// "/usr/bin/env NAME") and asks the interpreter where it loads from; those
// directories are bound read-only in the sandbox, as "read" paths are, so
// the plugin sees the host's files at the host's paths and can change none
// of them.

// interpreter describes one kind of script interpreter.
type interpreter struct {
	// name is what messages call it ("python3").
	name string
	// match recognises the interpreter by its executable's base name.
	match *regexp.Regexp
	// probe are the arguments that make the interpreter print its library
	// directories, one per line (or ';'-separated templates for Lua); nil
	// when it needs nothing beyond its executable and libraries.
	probe []string
	// dirs turns the probe's output into candidate directories.
	dirs func(out string) []string
	// extensions picks, among the bound directories, those whose *.so
	// extension modules' shared libraries bundle init copies (Python's
	// lib-dynload: ssl, hashlib, sqlite3 need libssl, libcrypto, ...).
	extensions func(dir string) bool
}

// interpreters is the table bundle init recognises. Each probe disables
// what would run code or read settings from the caller's environment
// (site-packages and PYTHON* variables, PERL5LIB, LUA_PATH): the probe's
// environment is empty, so the answer is the interpreter's built-in one.
var interpreters = []interpreter{
	{
		name:       "python3",
		match:      regexp.MustCompile(`^python3(\.[0-9]+)?$`),
		probe:      []string{"-I", "-S", "-c", "import sys\nfor p in sys.path: print(p)"},
		dirs:       lines,
		extensions: func(dir string) bool { return filepath.Base(dir) == "lib-dynload" },
	},
	{
		name:  "perl",
		match: regexp.MustCompile(`^perl(5[0-9.]*)?$`),
		probe: []string{"-e", `print "$_\n" for @INC`},
		dirs:  lines,
	},
	{
		name:  "lua",
		match: regexp.MustCompile(`^lua(5\.[0-9]|jit)?$`),
		probe: []string{"-e", "print(package.path) print(package.cpath)"},
		dirs:  luaDirs,
	},
	// Node's and the shells' standard libraries are built into the
	// executable: its shared libraries are all they need.
	{name: "node", match: regexp.MustCompile(`^(node|nodejs)$`)},
	{name: "sh", match: regexp.MustCompile(`^(sh|dash|bash|ash|busybox)$`)},
}

// lookupInterpreter returns the table entry for the executable at path.
func lookupInterpreter(path string) *interpreter {
	base := filepath.Base(path)
	for i := range interpreters {
		if interpreters[i].match.MatchString(base) {
			return &interpreters[i]
		}
	}
	return nil
}

// lines splits a probe's output into absolute paths.
func lines(out string) []string {
	var dirs []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); filepath.IsAbs(l) {
			dirs = append(dirs, filepath.Clean(l))
		}
	}
	return dirs
}

// luaDirs turns Lua's package.path and package.cpath templates
// ("/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua")
// into the directories before the first "?".
func luaDirs(out string) []string {
	var dirs []string
	for _, l := range strings.Split(out, "\n") {
		for _, t := range strings.Split(l, ";") {
			dir, _, ok := strings.Cut(t, "?")
			if ok && filepath.IsAbs(dir) {
				dirs = append(dirs, filepath.Clean(dir))
			}
		}
	}
	return dirs
}

// interpreterNeeds is what a recognised interpreter needs beyond its
// executable and shared libraries.
type interpreterNeeds struct {
	name string // the interpreter's table name, e.g. "python3"
	// binds are host directories bound read-only at the same path.
	binds []string
	// extensions are directories below binds whose *.so modules' shared
	// libraries are copied into the rootfs.
	extensions []string
}

// probeTimeout bounds how long an interpreter may take to answer.
const probeTimeout = 10 * time.Second

// probeInterpreter asks the interpreter at host path exe (recognised by
// the table) where it loads its library from and returns the directories
// to bind: those that exist, as resolved (no symlink), that every local
// user could read anyway (root-owned, not writable by group or others, in
// directories everyone may enter; trusted only), are not already below
// another one, and would not be refused as a "read" path. It runs the
// interpreter with an empty environment, as nobody when the caller is
// root; trusted false lifts the ownership rule, as --allow-untrusted-files.
func probeInterpreter(it *interpreter, exe string, trusted bool) (*interpreterNeeds, error) {
	needs := &interpreterNeeds{name: it.name}
	if it.probe == nil {
		return needs, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, it.probe...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	if os.Geteuid() == 0 {
		// The interpreter only has to report built-in paths; it does not
		// need root for that.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = "no answer within " + probeTimeout.String()
		}
		return nil, fmt.Errorf("%s %s: asking it for its library directories failed (%v) %s: list them in the manifest's \"read\" instead", it.name, exe, err, msg)
	}
	var dirs []string
	seen := map[string]bool{}
	for _, d := range it.dirs(stdout.String()) {
		if !filepath.IsAbs(d) {
			continue // "." and the like: relative to wherever the plugin runs
		}
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue // a path the interpreter would search but the host lacks
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.IsDir() || seen[real] {
			continue
		}
		if trusted && untrustedDir(real) != "" {
			continue
		}
		if sev, _, _ := hostBindRisk(real, false); sev >= Medium {
			continue
		}
		seen[real] = true
		dirs = append(dirs, bindPoint(d, real))
		if it.extensions != nil && it.extensions(real) {
			needs.extensions = append(needs.extensions, real)
		}
	}
	needs.binds = outermost(dirs)
	return needs, nil
}

// untrustedDir says why directory p is not one every local user could
// read anyway, or returns "".
func untrustedDir(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return err.Error()
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case st.Uid != 0:
		return fmt.Sprintf("owned by uid %d", st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("writable by group or others (mode %04o)", fi.Mode().Perm())
	case fi.Mode().Perm()&0o005 != 0o005:
		return fmt.Sprintf("not readable by every user (mode %04o)", fi.Mode().Perm())
	}
	return unsearchableParent(p)
}

// bindPoint is where an interpreter's directory named (its path as the
// interpreter reports it) and resolved to real is bound in the sandbox:
// where the interpreter looks (Perl's @INC names .../perl/5.36, a link to
// 5.36.0), unless that lies in the kernel's file systems, which the
// sandbox mounts itself; then at real.
func bindPoint(named, real string) string {
	clean := filepath.Clean(named)
	for _, kernel := range []string{"/proc", "/sys", "/dev"} {
		if clean == kernel || strings.HasPrefix(clean, kernel+"/") {
			return real
		}
	}
	return clean
}

// outermost drops the directories below another one of dirs (one bind
// covers them), keeping the order.
func outermost(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		covered := false
		for _, t := range dirs {
			if strings.HasPrefix(d, t+"/") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}

// interpreterNeeds recognises the interpreter p runs on (p itself, or its
// "#!" interpreter, also through "/usr/bin/env NAME") and asks it what it
// needs; nil when p runs on none the table knows.
func (p *program) interpreterNeeds(trusted bool) (*interpreterNeeds, error) {
	exe := p.path
	if p.elf == nil {
		var err error
		if exe, err = p.scriptInterpreter(); err != nil {
			return nil, err
		}
	}
	it := lookupInterpreter(exe)
	if it == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			it = lookupInterpreter(real)
		}
	}
	if it == nil {
		return nil, nil
	}
	return probeInterpreter(it, exe, trusted)
}

// scriptInterpreter returns the host path of the program a script's "#!"
// line runs: the interpreter, or for "/usr/bin/env [-S] NAME" NAME looked
// up in DefaultPath, the PATH the plugin starts with.
func (p *program) scriptInterpreter() (string, error) {
	if filepath.Base(p.interp) != "env" {
		return p.interp, nil
	}
	name := envProgram(p.interpArgs)
	if name == "" {
		return p.interp, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("script %s: its #! line runs env with %q: name a program (python3) or its absolute path on the #! line", p.path, name)
	}
	for _, dir := range filepath.SplitList(DefaultPath) {
		c := filepath.Join(dir, name)
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("script %s: its #! line runs %s %s, which is in none of %s on this host: install it, or name its absolute path on the #! line", p.path, p.interp, name, DefaultPath)
}

// envProgram returns the program env(1) runs for the arguments of a "#!"
// line: the first word that is not an option or a NAME=value assignment.
func envProgram(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-S" || a == "--split-string" || a == "-i" || a == "--ignore-environment" || a == "-":
			continue
		case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir":
			i++ // takes a value
			continue
		case strings.HasPrefix(a, "-"), strings.Contains(a, "="):
			continue
		}
		return a
	}
	return ""
}

// addReads returns m with the interpreter's directories added to its read
// paths (a copy; m itself is unchanged), leaving out those a read path
// already covers.
func (n *interpreterNeeds) addReads(m *Manifest) *Manifest {
	if n == nil || len(n.binds) == 0 {
		return m
	}
	c := *m
	c.Read = append([]string(nil), m.Read...)
	for _, d := range n.binds {
		covered := false
		for _, r := range m.Read {
			if d == r || strings.HasPrefix(d, r+"/") {
				covered = true
			}
		}
		if !covered {
			c.Read = append(c.Read, d)
		}
	}
	return &c
}

// interpreterNeeds reports the interpreter's binds and copies the shared
// libraries its extension modules need, as the ELF program's own: by name
// from the loader's standard directories, trusted files only. A library
// the host lacks is reported and skipped: that module fails to import in
// the sandbox as it would on the host.
func (a *assembler) interpreterNeeds(n *interpreterNeeds) error {
	if n == nil {
		return nil
	}
	for _, d := range n.binds {
		a.report(InitStep{Action: StepBind, Path: d, Why: n.name + "'s library directory, read-only"})
	}
	for _, dir := range n.extensions {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("%s extension modules in %s: %w", n.name, dir, err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".so") || !e.Type().IsRegular() {
				continue
			}
			if err := a.extensionLibraries(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// extensionLibraries copies the DT_NEEDED libraries of extension module
// mod (bound, not copied) that the host has.
func (a *assembler) extensionLibraries(mod string) error {
	f, err := a.openHost(mod, "the interpreter")
	if err != nil {
		return err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil || ef.Class != a.class || ef.Machine != a.machine {
		return nil // not a module this interpreter can load
	}
	return a.neededLibraries(ef, mod, func(name string) {
		a.report(InitStep{Action: StepSkip, Path: name, Why: "needed by " + mod + ", not in the loader's standard directories"})
	})
}
