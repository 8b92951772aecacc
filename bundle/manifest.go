package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/seccompgen"
)

// ManifestName is the conventional file name of a plugin manifest.
const ManifestName = "plugin.json"

// Values of Manifest.Network.
const (
	NetworkNone     = seccompgen.NetworkNone     // own network namespace, only AF_UNIX sockets
	NetworkLoopback = seccompgen.NetworkLoopback // own network namespace with only lo
	NetworkHost     = seccompgen.NetworkHost     // the host's network namespace
)

// Values of Manifest.OnViolation and of syscallActions (see
// seccompgen.Actions for what each does; "errno:NAME" names the errno).
const (
	ViolationErrno      = "errno"       // a denied call fails with EPERM, logged by plugbox's monitor
	ViolationENOSYS     = "enosys"      // a denied call fails with ENOSYS, unlogged
	ViolationKill       = "kill"        // a denied call kills the plugin
	ViolationKillThread = "kill-thread" // a denied call kills the calling thread
	ViolationTrap       = "trap"        // a denied call raises SIGSYS in the calling thread
	ViolationLog        = "log"         // a denied call runs; the kernel logs it
	ViolationAudit      = "audit"       // a denied call runs; plugbox's monitor logs it
)

// Values of Manifest.Landlock.
const (
	LandlockRequired   = "required"   // the start fails on kernels without Landlock
	LandlockBestEffort = "bestEffort" // Landlock is applied when the kernel has it
	LandlockOff        = "off"        // no Landlock policy is written
)

// Defaults applied to fields a manifest leaves out.
const (
	DefaultUID       = 1000
	DefaultGID       = 1000
	DefaultMemory    = 256 << 20 // bytes
	DefaultTmp       = 64 << 20  // bytes of the /tmp tmpfs
	DefaultPids      = 64
	DefaultCPUs      = 1.0
	DefaultOpenFiles = 256
	DefaultTimeout   = "60s"
	DefaultCwd       = "/"
)

// Manifest is a plugin's plugin.json: what the plugin needs, from which
// Spec derives a hardened config.json. Anything not asked for is denied.
type Manifest struct {
	// Name identifies the plugin in annotations, logs and /etc/passwd.
	Name string `json:"name"`
	// Command is the plugin's argv; Command[0] is the absolute path of the
	// executable inside the sandbox.
	Command []string `json:"command"`
	// Cwd is the working directory inside the sandbox ("/" when empty).
	Cwd string `json:"cwd,omitempty"`
	// Env lists extra "KEY=value" variables; PATH and HOME have defaults.
	Env []string `json:"env,omitempty"`
	// Read lists host paths bound read-only at the same path inside.
	Read []string `json:"read,omitempty"`
	// Write lists host paths bound read-write (and noexec) at the same path.
	Write []string `json:"write,omitempty"`
	// Network is "none" (default), "loopback" or "host".
	Network string `json:"network,omitempty"`
	// Syscalls names the seccompgen permission groups the plugin may use.
	Syscalls []string `json:"syscalls,omitempty"`
	// ExtraSyscalls names single syscalls allowed beyond the groups.
	ExtraSyscalls []string `json:"extraSyscalls,omitempty"`
	// OnViolation is what a call the profile denies gets: "errno"
	// (default: EPERM), "errno:NAME" (e.g. "errno:EACCES"), "enosys",
	// "kill", "kill-thread", "trap", "log" or "audit".
	OnViolation string `json:"onViolation,omitempty"`
	// SyscallActions overrides OnViolation for single calls, e.g.
	// {"ptrace": "kill", "mount": "errno:EPERM"}.
	SyscallActions map[string]string `json:"syscallActions,omitempty"`
	// SeccompSpecAllow keeps the Spectre store-bypass mitigation off for the
	// plugin (SECCOMP_FILTER_FLAG_SPEC_ALLOW): faster, but a recorded choice.
	SeccompSpecAllow bool `json:"seccompSpecAllow,omitempty"`
	// Landlock is "required" (default), "bestEffort" or "off".
	Landlock string `json:"landlock,omitempty"`
	// Limits bounds the plugin's resources; zero fields take the defaults.
	Limits Limits `json:"limits"`
	// FDs names the descriptors the host passes from fd 3 on, exported as
	// LISTEN_FDS / LISTEN_FDNAMES (sd_listen_fds(3) convention).
	FDs []string `json:"fds,omitempty"`
	// ReadableExecutable installs the plugin executable readable (0555)
	// instead of execute-only (0111). Execute-only keeps the plugin
	// non-dumpable after execve: no other process of its uid may ptrace it
	// or read its memory, but it cannot read its own executable
	// (/proc/self/exe, as self-extracting programs do) and its own
	// /proc/self files that only their owner may use (environ, mem, comm and
	// oom_score_adj for writing) belong to root. Set it for such plugins.
	ReadableExecutable bool `json:"readableExecutable,omitempty"`
	// UID and GID are the plugin's ids inside the sandbox (default 1000;
	// 0 is refused). A rootless caller can map only itself, so there the
	// plugin runs as 0 of its own user namespace instead (see SpecOptions).
	UID *uint32 `json:"uid,omitempty"`
	GID *uint32 `json:"gid,omitempty"`
	// Broker lists the host files and connections the plugin may ask
	// plugbox for at run time (see package broker): on Linux its own open
	// and connect calls are brokered, and on both systems it gets the
	// descriptor "broker" for the explicit protocol.
	Broker *broker.Spec `json:"broker,omitempty"`
}

// Limits bounds what a plugin may consume. Sizes are a byte count (a JSON
// number) or a string with a binary unit: "512K", "64M", "1G" (also "64MiB"
// and "64MB", all meaning multiples of 1024).
type Limits struct {
	// Memory is the cgroup memory limit (default 256M).
	Memory ByteSize `json:"memory,omitempty"`
	// Tmp is the size of the /tmp tmpfs, charged to Memory (default 64M).
	Tmp ByteSize `json:"tmp,omitempty"`
	// Pids is the cgroup limit on processes and threads (default 64).
	Pids int64 `json:"pids,omitempty"`
	// CPUs is the CPU bandwidth in CPUs, e.g. 0.5 (default 1).
	CPUs float64 `json:"cpus,omitempty"`
	// OpenFiles is RLIMIT_NOFILE, soft and hard (default 256).
	OpenFiles uint64 `json:"openFiles,omitempty"`
	// Timeout is the wall-clock limit as a Go duration (default "60s").
	Timeout string `json:"timeout,omitempty"`
	// FileSize is RLIMIT_FSIZE, the largest file the plugin may write
	// (default: no limit). It bounds each file, not the disk a plugin fills
	// in its write paths: see rlimits.
	FileSize ByteSize `json:"fileSize,omitempty"`
}

// ByteSize is a size in bytes that decodes from a JSON number or from a
// string such as "64M" and encodes as the shortest such string.
type ByteSize int64

// sizeUnits maps accepted suffixes to their multipliers.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
	"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
	"T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40,
}

// sizeError reports a size that does not parse; LoadManifest uses raw to
// find its line and column.
type sizeError struct {
	raw string
	why string
}

func (e *sizeError) Error() string {
	return fmt.Sprintf(`size %s %s: write a byte count (268435456) or a number with K, M or G ("256M")`, e.raw, e.why)
}

// ParseByteSize parses "268435456", "256M", "256MiB" or "0.5G".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, &sizeError{raw: strconv.Quote(s), why: fmt.Sprintf("has unknown unit %q", t[i:])}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, &sizeError{raw: strconv.Quote(s), why: "is not a non-negative number"}
	}
	v := f * float64(mult)
	if v > math.MaxInt64/2 {
		return 0, &sizeError{raw: strconv.Quote(s), why: "is too large"}
	}
	return ByteSize(v), nil
}

// String renders b with the largest binary unit that divides it exactly.
func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b != 0 && int64(b)%u.m == 0 {
			return strconv.FormatInt(int64(b)/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalJSON encodes b as a string such as "256M".
func (b ByteSize) MarshalJSON() ([]byte, error) {
	return json.Marshal(b.String())
}

// UnmarshalJSON accepts a JSON number of bytes or a size string.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	if string(data) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || n < 0 {
		return &sizeError{raw: string(data), why: "is not a whole, non-negative number of bytes"}
	}
	*b = ByteSize(n)
	return nil
}

// manifestFields lists plugin.json's keys for unknown-field messages.
const manifestFields = "name, command, cwd, env, read, write, network, syscalls, extraSyscalls, onViolation, syscallActions, seccompSpecAllow, landlock, limits{memory, tmp, pids, cpus, openFiles, timeout, fileSize}, fds, readableExecutable, uid, gid, broker{open[{path, access, mode}], connect}"

// LoadManifest reads and strictly decodes a plugin.json, then validates it
// (including that its read and write paths exist on this host).
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("manifest %s not found: pass --manifest naming a plugin.json (see 'plugbox spec --help' for the schema)", path)
		}
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := DecodeManifest(path, data)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// DecodeManifest parses plugin.json bytes without validating them; name is
// used in messages. Syntax, type and size errors report line and column,
// and unknown fields are refused so a misspelled limit is never ignored.
func DecodeManifest(name string, data []byte) (*Manifest, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: write a JSON object such as {\"name\": \"plugin\", \"command\": [\"/bin/plugin\"]}", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		var se *sizeError
		switch {
		case errors.As(err, &se):
			if i := bytes.Index(data, []byte(se.raw)); i >= 0 {
				line, col := position(data, int64(i))
				return nil, fmt.Errorf("%s:%d:%d: %v", name, line, col, se)
			}
			return nil, fmt.Errorf("%s: %v", name, se)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, fmt.Errorf("%s: %s: check its spelling; plugin.json knows %s", name, strings.TrimPrefix(err.Error(), "json: "), manifestFields)
		}
		return nil, describeJSONError(name, data, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the JSON object", name)
	}
	return &m, nil
}

// DefaultManifest returns a starter manifest: no host paths, no network,
// the seccompgen default groups, and the default limits spelled out.
func DefaultManifest() *Manifest {
	uid, gid := uint32(DefaultUID), uint32(DefaultGID)
	return &Manifest{
		Name:        "plugin",
		Command:     []string{"/bin/plugin"},
		Network:     NetworkNone,
		Syscalls:    DefaultSyscallGroups(),
		OnViolation: ViolationErrno,
		Landlock:    LandlockRequired,
		Limits: Limits{
			Memory:    DefaultMemory,
			Tmp:       DefaultTmp,
			Pids:      DefaultPids,
			CPUs:      DefaultCPUs,
			OpenFiles: DefaultOpenFiles,
			Timeout:   DefaultTimeout,
		},
		UID: &uid,
		GID: &gid,
	}
}

// DefaultSyscallGroups returns the permission groups a manifest without
// "syscalls" gets: seccompgen's "base" (memory, signals, threads, clocks,
// I/O on open descriptors, execve) and "fs-read" (open read-only, stat,
// readdir), which a dynamic executable needs to load its libraries. It is
// a fresh slice.
func DefaultSyscallGroups() []string {
	return []string{"base", "fs-read"}
}

// Validate checks every field and that read and write paths exist. Errors
// name the field and say how to fix it.
func (m *Manifest) Validate() error {
	if m == nil {
		return errors.New("manifest is missing")
	}
	if err := validName(m.Name); err != nil {
		return err
	}
	if len(m.Command) == 0 || m.Command[0] == "" {
		return errors.New(`field "command" is empty: give the plugin's argv, e.g. ["/bin/plugin", "--serve"]`)
	}
	if err := validInsidePath("command[0]", m.Command[0]); err != nil {
		return err
	}
	for i, a := range m.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("command[%d] contains a NUL byte", i)
		}
	}
	if m.Cwd != "" {
		if !filepath.IsAbs(m.Cwd) || filepath.Clean(m.Cwd) != m.Cwd {
			return fmt.Errorf(`field "cwd" must be a clean absolute path, not %q`, m.Cwd)
		}
	}
	if err := m.validateEnv(); err != nil {
		return err
	}
	if err := m.validatePaths(); err != nil {
		return err
	}
	switch m.Network {
	case "", NetworkNone, NetworkLoopback, NetworkHost:
	default:
		return fmt.Errorf(`field "network" is %q: use "none", "loopback" or "host"`, m.Network)
	}
	if _, err := m.Policy(); err != nil {
		return err
	}
	switch m.Landlock {
	case "", LandlockRequired, LandlockBestEffort, LandlockOff:
	default:
		return fmt.Errorf(`field "landlock" is %q: use "required", "bestEffort" or "off"`, m.Landlock)
	}
	for i, g := range m.Syscalls {
		if _, err := seccompgen.LookupGroup(g); err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
	}
	for i, s := range m.ExtraSyscalls {
		if !validSyscallName(s) {
			return fmt.Errorf("extraSyscalls[%d] %q is not a syscall name: use the kernel's name, e.g. \"getrandom\"", i, s)
		}
	}
	if _, err := m.brokerPolicy(); err != nil {
		return err
	}
	// Generate checks what spans fields: Extra names it refuses, a
	// network that needs a socket group, a per-call action for a call the
	// groups allow.
	opts, _ := m.seccompOptions()
	if _, err := seccompgen.Generate(opts); err != nil {
		if strings.HasPrefix(err.Error(), "syscallActions") {
			return err
		}
		return fmt.Errorf("syscalls: %w", err)
	}
	if err := m.Limits.validate(); err != nil {
		return err
	}
	for i, n := range m.FDs {
		if n == "" || len(n) > 255 || strings.ContainsAny(n, ":") || !printableASCII(n) {
			return fmt.Errorf("fds[%d] %q: a descriptor name is 1 to 255 printable ASCII characters without ':'", i, n)
		}
		if n == broker.FDName && m.Broker != nil {
			return fmt.Errorf("fds[%d] is %q, the name plugbox gives the broker's socket: rename the descriptor", i, n)
		}
	}

	if m.UID != nil && (*m.UID == 0 || *m.UID >= idMapSize-1) {
		return fmt.Errorf(`field "uid" is %d: use an id from 1 to %d (plugins never run as root)`, *m.UID, idMapSize-2)
	}
	if m.GID != nil && (*m.GID == 0 || *m.GID >= idMapSize-1) {
		return fmt.Errorf(`field "gid" is %d: use an id from 1 to %d`, *m.GID, idMapSize-2)
	}
	return nil
}

func validName(n string) error {
	if n == "" {
		return errors.New(`field "name" is empty: name the plugin, e.g. "thumbnailer"`)
	}
	if len(n) > 64 {
		return fmt.Errorf(`field "name" is %d characters long: keep it within 64`, len(n))
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '-' || r == '_' || r == '.')
		if !ok {
			return fmt.Errorf(`field "name" %q: use letters, digits, '-', '_' and '.', starting with a letter or digit`, n)
		}
	}
	return nil
}

// validInsidePath checks a path inside the sandbox that must live in the
// rootfs (not under a mount plugbox places over it).
func validInsidePath(field, p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("%s %q must be a clean absolute path inside the sandbox, e.g. \"/bin/plugin\"", field, p)
	}
	for _, top := range []string{"/proc", "/dev", "/sys", "/tmp"} {
		if p == top || strings.HasPrefix(p, top+"/") {
			return fmt.Errorf("%s %q lies under %s, which plugbox mounts over: put the executable in /bin or /usr/bin", field, p, top)
		}
	}
	return nil
}

func (m *Manifest) validateEnv() error {
	for i, kv := range m.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("env[%d] %q must have the form KEY=value", i, kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("env[%d] contains a NUL byte", i)
		}
		switch k {
		case "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID":
			return fmt.Errorf("env[%d] sets %s, which plugbox derives from \"fds\": list the descriptor names in \"fds\" instead", i, k)
		}
	}
	return nil
}

// validatePaths checks read and write: clean, absolute, existing, not a
// host path whose exposure Check rates Medium or High, and not listed twice.
func (m *Manifest) validatePaths() error {
	seen := map[string]string{}
	for _, l := range []struct {
		field string
		paths []string
		rw    bool
	}{{"read", m.Read, false}, {"write", m.Write, true}} {
		for i, p := range l.paths {
			field := fmt.Sprintf("%s[%d]", l.field, i)
			if !filepath.IsAbs(p) || filepath.Clean(p) != p {
				return fmt.Errorf("%s %q must be a clean absolute host path", field, p)
			}
			if prev, dup := seen[p]; dup {
				return fmt.Errorf("%s %q is already listed as %s: list each path once", field, p, prev)
			}
			seen[p] = field
			if p == "/tmp" {
				return fmt.Errorf("%s is /tmp, which is the plugin's private tmpfs: bind a directory such as /srv/plugin-data instead", field)
			}
			for _, top := range []string{"/proc", "/sys", "/dev"} {
				if p == top || strings.HasPrefix(p, top+"/") {
					return fmt.Errorf("%s %q exposes host kernel interfaces under %s: plugins may not bind them", field, p, top)
				}
			}
			if sev, problem, fix := hostBindRisk(p, l.rw); sev >= Medium {
				return fmt.Errorf("%s %q: %s: %s", field, p, problem, fix)
			}
			if _, err := os.Stat(p); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%s %q does not exist on this host: create it or remove it from the manifest", field, p)
				}
				return fmt.Errorf("%s %q: %w", field, p, err)
			}
		}
	}
	return nil
}

func (l *Limits) validate() error {
	if l.Memory != 0 && l.Memory < 4<<20 {
		return fmt.Errorf(`limits.memory %s is below 4M, too little to start a process: raise it`, l.Memory)
	}
	if l.Tmp != 0 && l.Tmp < 64<<10 {
		return fmt.Errorf(`limits.tmp %s is below 64K: raise it`, l.Tmp)
	}
	if l.Pids < 0 || l.Pids > 1<<22 {
		return fmt.Errorf(`limits.pids %d: use 1 to %d processes and threads`, l.Pids, 1<<22)
	}
	if l.CPUs < 0 || l.CPUs != 0 && l.CPUs < 0.01 || l.CPUs > 1024 || math.IsNaN(l.CPUs) {
		return fmt.Errorf(`limits.cpus %g: use a number of CPUs from 0.01 to 1024, e.g. 0.5`, l.CPUs)
	}
	if l.OpenFiles != 0 && (l.OpenFiles < 16 || l.OpenFiles > 1<<20) {
		return fmt.Errorf(`limits.openFiles %d: use 16 to %d descriptors`, l.OpenFiles, 1<<20)
	}
	if l.Timeout != "" {
		d, err := time.ParseDuration(l.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf(`limits.timeout %q is not a positive Go duration: write e.g. "30s" or "5m"`, l.Timeout)
		}
	}
	if l.FileSize < 0 {
		return fmt.Errorf(`limits.fileSize %s must not be negative`, l.FileSize)
	}
	memory, tmp := l.Memory, l.Tmp
	if memory == 0 {
		memory = DefaultMemory
	}
	if tmp == 0 {
		tmp = DefaultTmp
	}
	if tmp > memory {
		return fmt.Errorf(`limits.tmp %s is larger than limits.memory %s: files in /tmp are charged to the memory limit, so the plugin would be killed by the OOM killer before /tmp is full; lower "tmp" or raise "memory"`, tmp, memory)
	}
	return nil
}

// validSyscallName accepts kernel syscall names (lower-case, digits, '_').
func validSyscallName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// effective returns a copy of m with every default filled in.
func (m *Manifest) effective() Manifest {
	e := *m
	if e.Cwd == "" {
		e.Cwd = DefaultCwd
	}
	if e.Network == "" {
		e.Network = NetworkNone
	}
	if e.OnViolation == "" {
		e.OnViolation = ViolationErrno
	}
	if e.Landlock == "" {
		e.Landlock = LandlockRequired
	}
	if e.Syscalls == nil {
		e.Syscalls = DefaultSyscallGroups()
	}
	if e.Limits.Memory == 0 {
		e.Limits.Memory = DefaultMemory
	}
	if e.Limits.Tmp == 0 {
		e.Limits.Tmp = DefaultTmp
	}
	if e.Limits.Pids == 0 {
		e.Limits.Pids = DefaultPids
	}
	if e.Limits.CPUs == 0 {
		e.Limits.CPUs = DefaultCPUs
	}
	if e.Limits.OpenFiles == 0 {
		e.Limits.OpenFiles = DefaultOpenFiles
	}
	if e.Limits.Timeout == "" {
		e.Limits.Timeout = DefaultTimeout
	}
	uid, gid := uint32(DefaultUID), uint32(DefaultGID)
	if m.UID != nil {
		uid = *m.UID
	}
	if m.GID != nil {
		gid = *m.GID
	}
	e.UID, e.GID = &uid, &gid
	return e
}

// Policy decodes onViolation and syscallActions; errors name the field.
func (m *Manifest) Policy() (seccompgen.Policy, error) {
	return seccompgen.ParsePolicy(m.OnViolation, m.SyscallActions)
}

// seccompOptions maps the manifest's seccomp fields to seccompgen's.
func (m *Manifest) seccompOptions() (seccompgen.Options, error) {
	groups := m.Syscalls
	if groups == nil {
		groups = DefaultSyscallGroups()
	}
	p, err := m.Policy()
	return seccompgen.Options{
		Groups:       groups,
		Extra:        m.ExtraSyscalls,
		Network:      m.Network,
		Violations:   p,
		SpecAllow:    m.SeccompSpecAllow,
		BrokerTCP:    m.brokersTCP(),
		BrokerSocket: m.Broker != nil,
	}, err
}

// brokersTCP says the broker section names a tcp destination.
func (m *Manifest) brokersTCP() bool {
	if m.Broker == nil {
		return false
	}
	for _, c := range m.Broker.Connect {
		if strings.HasPrefix(c, "tcp:") {
			return true
		}
	}
	return false
}

// brokerPolicy checks the broker section and decodes it (nil without
// one): the rules' syntax, host paths plugbox would not bind either, and
// the socket group connect rules need.
func (m *Manifest) brokerPolicy() (*broker.Policy, error) {
	if m.Broker == nil {
		return nil, nil
	}
	p, err := broker.Compile(*m.Broker)
	if err != nil {
		return nil, err
	}
	for _, r := range p.Open {
		target := r.Dir
		if r.Name != "" && !r.Glob {
			target = r.Dir + "/" + r.Name
		}
		if sev, problem, fix := hostBindRisk(target, r.Access != broker.Read); sev >= Medium {
			return nil, fmt.Errorf("%s.path %q: %s: %s", r.Field, r.Path, problem, fix)
		}
	}
	for _, d := range p.Connect {
		if d.Network != "unix" {
			continue
		}
		if sev, problem, fix := bindRisk(d.Path, false); sev >= High {
			return nil, fmt.Errorf("%s %q: %s: %s", d.Field, d.Raw, problem, fix)
		}
	}
	if len(p.Connect) > 0 {
		groups := m.Syscalls
		if groups == nil {
			groups = DefaultSyscallGroups()
		}
		if !slices.Contains(groups, "net-client") && !slices.Contains(groups, "net-server") {
			return nil, errors.New(`broker.connect needs sockets and connect(2): add "net-client" to "syscalls"`)
		}
	}
	return p, nil
}
