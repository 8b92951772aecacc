package jail

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rlimitNumbers maps runtime-spec rlimit names to FreeBSD's RLIMIT_*
// resource numbers (sys/resource.h). RLIMIT_AS is FreeBSD's RLIMIT_VMEM.
var rlimitNumbers = map[string]int{
	"RLIMIT_CPU":     0,
	"RLIMIT_FSIZE":   1,
	"RLIMIT_DATA":    2,
	"RLIMIT_STACK":   3,
	"RLIMIT_CORE":    4,
	"RLIMIT_RSS":     5,
	"RLIMIT_MEMLOCK": 6,
	"RLIMIT_NPROC":   7,
	"RLIMIT_NOFILE":  8,
	"RLIMIT_SBSIZE":  9,
	"RLIMIT_AS":      10,
	"RLIMIT_VMEM":    10,
	"RLIMIT_NPTS":    11,
	"RLIMIT_SWAP":    12,
	"RLIMIT_KQUEUES": 13,
	"RLIMIT_UMTXP":   14,
}

// Rlimit is one resource limit to set with setrlimit(2).
type Rlimit struct {
	Resource  int
	Soft, Max uint64
}

// Rlimits maps process.rlimits to FreeBSD resource numbers; Linux-only
// names (RLIMIT_NICE, RLIMIT_RTPRIO, …) are errors, not silently dropped.
func Rlimits(rls []specs.POSIXRlimit) ([]Rlimit, error) {
	var out []Rlimit
	seen := map[int]bool{}
	for i, rl := range rls {
		n, ok := rlimitNumbers[rl.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: %q does not exist on FreeBSD; remove it (FreeBSD has RLIMIT_CPU, FSIZE, DATA, STACK, CORE, RSS, MEMLOCK, NPROC, NOFILE, SBSIZE, AS, NPTS, SWAP, KQUEUES, UMTXP)", i, rl.Type)
		}
		if rl.Soft > rl.Hard {
			return nil, fmt.Errorf("process.rlimits[%d]: soft limit %d is above hard limit %d; lower soft", i, rl.Soft, rl.Hard)
		}
		if seen[n] {
			return nil, fmt.Errorf("process.rlimits[%d].type: %s is set twice; remove one", i, rl.Type)
		}
		seen[n] = true
		out = append(out, Rlimit{Resource: n, Soft: rl.Soft, Max: rl.Hard})
	}
	return out, nil
}

// Getenv returns the value of key in a KEY=VALUE environment list; the
// last definition wins, as in execve(2) consumers.
func Getenv(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// LookPath resolves the program name of process.args[0] the way execvp(3)
// does, using PATH from the process environment (not the runtime's), with
// exists reporting whether a candidate is an executable file inside the
// jail. Names containing a slash are used as they are, relative to cwd.
func LookPath(name string, env []string, cwd string, exists func(string) bool) (string, error) {
	if name == "" {
		return "", errors.New("process.args[0]: empty program name; set the program to run")
	}
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(cwd, p)
		}
		if !exists(p) {
			return "", fmt.Errorf("process.args[0]: %s is not an executable file in the container", name)
		}
		return p, nil
	}
	pathEnv, ok := Getenv(env, "PATH")
	if !ok {
		pathEnv = "/bin:/usr/bin:/sbin:/usr/sbin:/usr/local/bin"
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		if !path.IsAbs(dir) {
			dir = path.Join(cwd, dir)
		}
		if p := path.Join(dir, name); exists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("process.args[0]: %q not found in PATH=%s of process.env; give an absolute path or fix PATH", name, pathEnv)
}

// Interpreter returns the PT_INTERP path of an ELF executable ("" when it is
// statically linked). A dynamically linked plugin run under Capsicum needs
// its runtime linker opened before cap_enter.
func Interpreter(r io.ReaderAt) (string, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return "", fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading PT_INTERP: %w", err)
		}
		return string(bytes.TrimRight(b, "\x00")), nil
	}
	return "", nil
}

// rtld's standard search path (STANDARD_LIBRARY_PATH in
// libexec/rtld-elf/rtld_paths.h) for the native and the 32-bit runtime
// linker, and the hints file ldconfig(8) writes for each.
var (
	standardLibraryDirs   = []string{"/lib/casper", "/lib", "/usr/lib"}
	standardLibraryDirs32 = []string{"/lib32", "/usr/lib32"}
)

const (
	hintsFile   = "/var/run/ld-elf.so.hints"
	hintsFile32 = "/var/run/ld-elf32.so.hints"
)

// is32 reports whether interp is the 32-bit runtime linker, which reads
// the LD_32_ variables (rtld's ld_env_prefix) and its own hints file.
func is32(interp string) bool { return path.Base(interp) == "ld-elf32.so.1" }

// HintsFile returns the ldconfig hints file the runtime linker interp
// reads; the init helper reads it before cap_enter, when rtld no longer can.
func HintsFile(interp string) string {
	if is32(interp) {
		return hintsFile32
	}
	return hintsFile
}

// LibraryPathFDsVar returns the variable through which interp takes
// pre-opened library directories: LD_LIBRARY_PATH_FDS, or
// LD_32_LIBRARY_PATH_FDS for ld-elf32.so.1.
func LibraryPathFDsVar(interp string) string {
	if is32(interp) {
		return "LD_32_LIBRARY_PATH_FDS"
	}
	return "LD_LIBRARY_PATH_FDS"
}

// LibraryDirs returns the library directories to pre-open for a
// dynamically linked plugin run by interp: the directories of the jail's
// hints file (what ldconfig(8) knows, e.g. /usr/local/lib and its
// subdirectories), then rtld's standard path (which has /lib/casper),
// then /usr/local/lib. Nothing comes from the config's LD_LIBRARY_PATH: a
// directory named there, "/" at worst, would be readable by the plugin in
// capability mode. Hints entries must be absolute, not "/", and name a
// library directory (a component starting with "lib"); others are
// dropped.
func LibraryDirs(interp string, hints []string) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if !path.IsAbs(d) {
			return
		}
		d = path.Clean(d)
		if d == "/" || seen[d] || !libraryDir(d) {
			return
		}
		seen[d] = true
		dirs = append(dirs, d)
	}
	for _, d := range hints {
		add(d)
	}
	std := standardLibraryDirs
	if is32(interp) {
		std = standardLibraryDirs32
	}
	for _, d := range std {
		add(d)
	}
	if !is32(interp) {
		add("/usr/local/lib")
	}
	return dirs
}

// libraryDir reports whether d has a component that starts with "lib".
func libraryDir(d string) bool {
	for _, c := range strings.Split(d, "/") {
		if strings.HasPrefix(c, "lib") {
			return true
		}
	}
	return false
}

// ELFHINTS_MAGIC ("Ehnt" read as a little-endian int) and the only
// version of struct elfhints_hdr (sys/elf-hints.h).
const (
	elfHintsMagic   = 0x746e6845
	elfHintsVersion = 1
	elfHintsHdrSize = 128 // six u_int32_t fields and spare[26]
)

// ParseHints returns the directory list of an ld-elf.so.hints file:
// struct elfhints_hdr { magic, version, strtab, strsize, dirlist,
// dirlistlen, spare[26] }, where the colon-separated list is dirlistlen
// bytes at strtab+dirlist (rtld's gethints). Both byte orders are read,
// as rtld does since ldconfig can write either.
func ParseHints(data []byte) ([]string, error) {
	if len(data) < elfHintsHdrSize {
		return nil, fmt.Errorf("hints file: %d bytes, shorter than its header", len(data))
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(data) == elfHintsMagic:
	case binary.BigEndian.Uint32(data) == elfHintsMagic:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("hints file: bad magic %#x", binary.LittleEndian.Uint32(data))
	}
	word := func(i int) uint64 { return uint64(order.Uint32(data[4*i:])) }
	if v := word(1); v != elfHintsVersion {
		return nil, fmt.Errorf("hints file: version %d, want %d", v, elfHintsVersion)
	}
	start := word(2) + word(4)
	end := start + word(5)
	if end > uint64(len(data)) || start > end {
		return nil, fmt.Errorf("hints file: directory list at %d..%d is outside the %d-byte file", start, end, len(data))
	}
	list := strings.TrimRight(string(data[start:end]), "\x00")
	if list == "" {
		return nil, nil
	}
	return strings.Split(list, ":"), nil
}

// RtldArgv returns the argv that runs program (already open as fd progFD)
// through rtld's direct-execution mode, ld-elf.so.1 -f FD -- ARGV..., which
// is how a dynamically linked program is started by fexecve(2) in
// capability mode (rtld(1)).
func RtldArgv(interp string, progFD int, argv []string) []string {
	out := []string{path.Base(interp), "-f", fmt.Sprint(progFD), "--"}
	return append(out, argv...)
}

// SetEnv returns env with key set to value, replacing earlier definitions.
func SetEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}

// LinuxOnlyLayers lists the confinement layers config.json asks for that
// exist only on Linux (seccomp, AppArmor, SELinux); the FreeBSD backend
// refuses to run without them unless Capsicum replaces them.
func LinuxOnlyLayers(spec *specs.Spec) []string {
	var out []string
	if spec == nil {
		return nil
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		out = append(out, "linux.seccomp")
	}
	if spec.Process != nil {
		if spec.Process.ApparmorProfile != "" {
			out = append(out, "process.apparmorProfile")
		}
		if spec.Process.SelinuxLabel != "" {
			out = append(out, "process.selinuxLabel")
		}
	}
	return out
}
