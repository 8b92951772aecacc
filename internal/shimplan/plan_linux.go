package shimplan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/shim"
	"github.com/plugbox/plugbox/internal/trace"
	"github.com/plugbox/plugbox/seccompgen"
)

// Plan is the shim's part of a layer plan: what every process started
// through it gets, the container's init as well as any process exec'd into
// the container later.
type Plan struct {
	landlock *shim.Landlock
	seccomp  *shim.Seccomp     // nil: no filter
	program  []unix.SockFilter // seccomp.Program, decoded for checks
	rlimits  []configs.Rlimit  // the container's process.rlimits
	monitor  bool              // the filter notifies: a monitor takes the listener
	trace    *os.File          // the shim's trace page, when this process traces
	binds    []shim.Bind       // bind mounts the shim checks against create's check
}

// planShim compiles the profile the shim loads (through root's BPF cache)
// and converts the Landlock policy; it fails on a profile the shim could
// not run the plugin under.
func New(root string, spec *specs.Spec, profile *specs.LinuxSeccomp, policy *bundle.LandlockPolicy, foreign bool) (*Plan, error) {
	sp := &Plan{landlock: landlockRuleset(policy)}
	var err error
	if sp.rlimits, err = RlimitsOf(spec.Process); err != nil {
		return nil, err
	}
	if sp.binds, err = bindsOf(spec); err != nil {
		return nil, err
	}
	if profile == nil {
		return sp, nil
	}
	if foreign {
		// Names this libseccomp does not know are skipped, as runc does.
		profile, _ = seccompgen.WithoutUnknown(profile)
	}
	flags, notify, err := seccompgen.LoadFlags(profile)
	if err != nil {
		return nil, fmt.Errorf("config.json: linux.seccomp: %w", err)
	}
	program, err := CompileCached(root, profile)
	if err != nil {
		return nil, fmt.Errorf("config.json: linux.seccomp: %w", err)
	}
	sp.seccomp = &shim.Seccomp{Flags: flags, Program: program}
	sp.program = decodeProgram(program)
	sp.monitor = notify
	if err := sp.check(unix.SYS_EXECVE, nil, "execve(2), which starts the plugin"); err != nil {
		return nil, err
	}
	return sp, nil
}

// bindsOf is what the shim checks of the manifest's read and write paths
// that spec mounts: the identity bundle init recorded, which create has
// just verified on the host (bundle.VerifyBinds), so that a path swapped
// between that check and libcontainer's mount never reaches the plugin.
func bindsOf(spec *specs.Spec) ([]shim.Bind, error) {
	binds, err := bundle.MountedBinds(spec)
	if err != nil {
		return nil, err
	}
	var out []shim.Bind
	for _, b := range binds {
		out = append(out, shim.Bind{Path: b.Path, Major: unix.Major(b.Dev), Minor: unix.Minor(b.Dev), Ino: b.Ino})
	}
	return out, nil
}

// Monitor reports whether the filter notifies: then a monitor must take
// the listener, or the notified calls would fail.
func (sp *Plan) Monitor() bool { return sp.monitor }

// check fails unless the program lets the shim make call nr (with args).
func (sp *Plan) check(nr int, args []uint64, what string) error {
	arch, err := seccompgen.NativeAuditArch()
	if err != nil {
		return err
	}
	d := seccompgen.SeccompData{Nr: int32(nr), Arch: arch}
	copy(d.Args[:], args)
	ret, err := seccompgen.Evaluate(sp.program, d)
	if err != nil {
		return fmt.Errorf("config.json: linux.seccomp: check the compiled filter: %w", err)
	}
	if act := ret & unix.SECCOMP_RET_ACTION_FULL; act != unix.SECCOMP_RET_ALLOW && act != unix.SECCOMP_RET_LOG {
		return fmt.Errorf("config.json: linux.seccomp does not allow %s (the filter answers %#x): allow it in the profile", what, ret)
	}
	return nil
}

// landlockRuleset turns a bundle's Landlock policy into the shim's ruleset:
// read-only paths may be read and executed, read-write paths also changed;
// every right up to ABI 7 is handled (the shim drops what the kernel
// lacks), and abstract unix sockets and signals are scoped (ABI 6).
func landlockRuleset(p *bundle.LandlockPolicy) *shim.Landlock {
	if p == nil {
		return nil
	}
	const ro = shim.AccessFSExecute | shim.AccessFSReadFile | shim.AccessFSReadDir
	const rw = ro | shim.AccessFSWriteFile | shim.AccessFSRemoveDir | shim.AccessFSRemoveFile |
		shim.AccessFSMakeChar | shim.AccessFSMakeDir | shim.AccessFSMakeReg | shim.AccessFSMakeSock |
		shim.AccessFSMakeFifo | shim.AccessFSMakeBlock | shim.AccessFSMakeSym | shim.AccessFSTruncate
	l := &shim.Landlock{
		HandledFS:  shim.AccessFSAll,
		Scoped:     shim.ScopeAbstractUnixSocket | shim.ScopeSignal,
		BestEffort: p.BestEffort,
	}
	for _, path := range p.ReadOnly {
		l.Rules = append(l.Rules, shim.LandlockRule{Path: path, Access: ro})
	}
	for _, path := range p.ReadWrite {
		l.Rules = append(l.Rules, shim.LandlockRule{Path: path, Access: rw})
	}
	// The standard character devices are writable everywhere (/dev/null);
	// on files the shim keeps only the file rights.
	for _, dev := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} {
		l.Rules = append(l.Rules, shim.LandlockRule{Path: dev, Access: rw})
	}
	return l
}

// Process turns process, which would exec the plugin, into one that
// execs the shim with sp's layers. Its descriptors 3.. (process.ExtraFiles)
// stay the plugin's; the shim, its configuration and, with monitorEnd, the
// monitor socket follow them. Without no_new_privs (a nil
// process.NoNewPrivileges counts as false) the shim loads the filter
// holding CAP_SYS_ADMIN and then sets the process's capabilities, or
// containerCaps (the container's, which libcontainer applies) when
// process.Capabilities is nil. It returns the files this process must
// close once libcontainer has started the process.
func (sp *Plan) Process(process *libcontainer.Process, monitorEnd *os.File, containerCaps *configs.Capabilities) ([]*os.File, error) {
	keep := 3 + len(process.ExtraFiles)
	exeFD, cfgFD := keep, keep+1
	cfg := &shim.Config{Args: process.Args, KeepFDs: keep, MonitorFD: -1, Landlock: sp.landlock, Seccomp: sp.seccomp, Binds: sp.binds}
	if sp.seccomp != nil && (process.NoNewPrivileges == nil || !*process.NoNewPrivileges) {
		if monitorEnd != nil {
			return nil, errors.New("the seccomp monitor needs process.noNewPrivileges: true")
		}
		var err error
		if cfg.Caps, err = sp.withoutNoNewPrivs(process, containerCaps); err != nil {
			return nil, err
		}
	}
	want := process.Rlimits
	if len(want) == 0 {
		want = sp.rlimits
	}
	cfg.Rlimits, process.Rlimits = SplitRlimits(want)
	if monitorEnd != nil {
		cfg.MonitorFD = keep + 2
		if err := sp.check(unix.SYS_READ, []uint64{uint64(cfg.MonitorFD)}, "read(2), in which the exec shim waits for the monitor"); err != nil {
			return nil, err
		}
	}
	exe, err := shim.Executable()
	if err != nil {
		return nil, err
	}
	exeFile, err := dupFile(exe)
	if err != nil {
		return nil, fmt.Errorf("exec shim: %w", err)
	}
	traceFD := keep + 2
	if monitorEnd != nil {
		traceFD++
	}
	if sp.trace, err = shimTrace(cfg, traceFD); err != nil {
		exeFile.Close()
		return nil, err
	}
	cfgFile, err := shim.ConfigFile(cfg)
	if err != nil {
		exeFile.Close()
		if sp.trace != nil {
			sp.trace.Close()
		}
		return nil, err
	}
	process.ExtraFiles = append(process.ExtraFiles, exeFile, cfgFile)
	if monitorEnd != nil {
		process.ExtraFiles = append(process.ExtraFiles, monitorEnd)
	}
	if sp.trace != nil {
		process.ExtraFiles = append(process.ExtraFiles, sp.trace)
	}
	// libcontainer resolves and execs args[0] inside the container, where
	// /proc/self/fd/K is the sealed shim.
	process.Args = []string{"/proc/self/fd/" + strconv.Itoa(exeFD), strconv.Itoa(cfgFD)}
	return []*os.File{exeFile, cfgFile}, nil
}

// splitRlimits gives the shim every limit, applied right before the
// plugin's execve, and leaves libcontainer only the raising of a hard limit
// above this process's, which needs libcontainer's privileges (it applies
// limits from the host); libcontainer keeps the current soft limit there,
// so nothing but the plugin runs under the configured ones.
func SplitRlimits(want []configs.Rlimit) ([]shim.Rlimit, []configs.Rlimit) {
	var toShim []shim.Rlimit
	var raise []configs.Rlimit
	for _, r := range want {
		toShim = append(toShim, shim.Rlimit{Resource: r.Type, Soft: r.Soft, Hard: r.Hard})
		var cur unix.Rlimit
		if unix.Getrlimit(r.Type, &cur) == nil && r.Hard > cur.Max {
			raise = append(raise, configs.Rlimit{Type: r.Type, Hard: r.Hard, Soft: cur.Cur})
		}
	}
	return toShim, raise
}

// rlimitsOf converts the spec's process.rlimits into libcontainer's form.
func RlimitsOf(p *specs.Process) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, r := range p.Rlimits {
		kind, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("config.json: process.rlimits: unknown type %q (use names like RLIMIT_NOFILE)", r.Type)
		}
		out = append(out, configs.Rlimit{Type: kind, Hard: r.Hard, Soft: r.Soft})
	}
	return out, nil
}

func decodeProgram(b []byte) []unix.SockFilter {
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		in := b[8*i:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])}
	}
	return prog
}

func encodeProgram(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// dupFile returns a close-on-exec duplicate of f.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// rlimitNames maps process.rlimits' type names to their resource numbers.
var rlimitNames = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// shimTrace gives cfg a trace page at descriptor fd when this process
// traces; it returns the file to put there (nil when not tracing).
func shimTrace(cfg *shim.Config, fd int) (*os.File, error) {
	if !trace.On() {
		return nil, nil
	}
	f, err := shim.TraceFile()
	if err != nil {
		return nil, err
	}
	cfg.TraceFD = fd
	return f, nil
}

// Trace is the shim's trace page, nil unless this process traces
// (PLUGBOX_TRACE); the caller reads it once the plugin has exited.
func (sp *Plan) Trace() *os.File { return sp.trace }
