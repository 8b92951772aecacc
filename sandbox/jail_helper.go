package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/jail"
)

// FreeBSDInitArg is the hidden first argument with which Create re-executes
// the plugbox binary as the container's init helper. main must call
// FreeBSDInitMain when os.Args[1] == FreeBSDInitArg, before anything else.
const FreeBSDInitArg = "jail-init"

// jailInitFDEnv names the environment variable that tells the helper which
// descriptor carries its configuration; the sync pipe is the next one.
const jailInitFDEnv = "_PLUGBOX_JAIL_INIT_FD"

// jailInitConfig is what Create sends the helper over the config pipe.
type jailInitConfig struct {
	JID         int           `json:"jid"`
	Fifo        string        `json:"fifo"`
	Args        []string      `json:"args"`
	Env         []string      `json:"env"`
	Cwd         string        `json:"cwd"`
	UID         int           `json:"uid"`
	GID         int           `json:"gid"`
	Groups      []int         `json:"groups,omitempty"`
	Umask       int           `json:"umask"`
	Rlimits     []jail.Rlimit `json:"rlimits,omitempty"`
	PreserveFDs int           `json:"preserveFds,omitempty"`
	// NoNewPrivileges is process.noNewPrivileges: procctl
	// PROC_NO_NEW_PRIVS_CTL, so exec of a setuid binary grants nothing.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Capsicum limits the descriptors and enters capability mode.
	Capsicum bool `json:"capsicum,omitempty"`
	// TrapCap makes capability violations deliver SIGTRAP.
	TrapCap bool `json:"trapCap,omitempty"`
	// Trace (plugbox trace) applies the Capsicum limits but skips
	// cap_enter, so that ktrace records what capability mode would deny.
	Trace bool `json:"trace,omitempty"`
}

// jailInitReply is the helper's one message on the sync pipe.
type jailInitReply struct {
	Error string `json:"error,omitempty"`
}

func buildJailInitConfig(spec *specs.Spec, fo bundle.FreeBSDOptions, opts CreateOptions) (*jailInitConfig, error) {
	p := spec.Process
	rl, err := jail.Rlimits(p.Rlimits)
	if err != nil {
		return nil, err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("process.cwd: %q must be absolute", cwd)
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process.args: empty; set the program to run")
	}
	cfg := &jailInitConfig{
		Args: p.Args, Env: p.Env, Cwd: cwd,
		UID: int(p.User.UID), GID: int(p.User.GID),
		Umask: 0o022, Rlimits: rl, PreserveFDs: opts.PreserveFDs,
		NoNewPrivileges: p.NoNewPrivileges,
		Capsicum:        fo.Capsicum, TrapCap: fo.TrapCap,
		Trace: opts.Monitor == jailMonitorLearning,
	}
	if p.User.Umask != nil {
		cfg.Umask = int(*p.User.Umask)
	}
	for _, g := range p.User.AdditionalGids {
		cfg.Groups = append(cfg.Groups, int(g))
	}
	return cfg, nil
}

// jailOrFile returns f, or fallback when f is nil. It exists because a nil
// *os.File stored in exec.Cmd's io.Reader/io.Writer fields is not a nil
// interface: os/exec would pass descriptor -1 and the child would find
// its stdio closed.
func jailOrFile(f, fallback *os.File) *os.File {
	if f != nil {
		return f
	}
	return fallback
}

// jailHelperCommand is the command that runs exe as the init helper: the
// caller's stdio (or opts'), the preserved descriptors from 3 on, extra
// (the broker's socket), then the config and sync pipes. The helper always starts a session of its
// own, in the foreground too, so the plugin never has the caller's
// terminal as its controlling terminal (TIOCSTI would type into it).
func jailHelperCommand(exe string, opts CreateOptions, cfgR, syncW *os.File, extra ...*os.File) *exec.Cmd {
	cmd := exec.Command(exe, FreeBSDInitArg)
	cmd.Env = []string{fmt.Sprintf("%s=%d", jailInitFDEnv, 3+opts.PreserveFDs+len(extra))}
	cmd.Stdin = jailOrFile(opts.Stdin, os.Stdin)
	cmd.Stdout = jailOrFile(opts.Stdout, os.Stdout)
	cmd.Stderr = jailOrFile(opts.Stderr, os.Stderr)
	for i := 0; i < opts.PreserveFDs; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, extra...)
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfgR, syncW)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// startHelper starts the init helper and waits until it reports that it is
// in the jail, running as process.user and waiting on exec.fifo (or why
// it could not get there); extra follow the preserved descriptors.
func (b *jailBackend) startHelper(opts CreateOptions, cfg *jailInitConfig, extra ...*os.File) (jail.Process, error) {
	exe, err := b.executable()
	if err != nil {
		return nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return nil, err
	}
	defer syncR.Close()
	proc, err := b.sys.StartProcess(jailHelperCommand(exe, opts, cfgR, syncW, extra...))
	cfgR.Close()
	syncW.Close()
	if err != nil {
		return nil, fmt.Errorf("start init helper: %w", err)
	}
	fail := func(err error) (jail.Process, error) {
		proc.Kill()
		proc.Wait()
		return nil, err
	}
	if err := json.NewEncoder(cfgW).Encode(cfg); err != nil {
		return fail(fmt.Errorf("send config to init helper: %w", err))
	}
	cfgW.Close()
	data, err := io.ReadAll(syncR)
	if err != nil {
		return fail(fmt.Errorf("read init helper reply: %w", err))
	}
	var rep jailInitReply
	if len(data) == 0 {
		return fail(errors.New("init helper exited before joining the jail (is main calling sandbox.FreeBSDInitMain for \"jail-init\"?)"))
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return fail(fmt.Errorf("init helper reply %q: %w", data, err))
	}
	if rep.Error != "" {
		return fail(errors.New(rep.Error))
	}
	return proc, nil
}

// jailInitMain is the init helper: it reads its config from the
// descriptor jailInitFDEnv names and runs jailInit. It returns only on
// failure.
func jailInitMain(s jail.Sys) error {
	fd, err := strconv.Atoi(os.Getenv(jailInitFDEnv))
	if err != nil || fd < 3 {
		return fmt.Errorf("%s is not set: this command is run by plugbox create, not by hand", jailInitFDEnv)
	}
	return jailInit(s, os.NewFile(uintptr(fd), "init-config"), os.NewFile(uintptr(fd+1), "init-sync"))
}

// jailInit joins the jail, drops to process.user, replies on sync, waits on
// exec.fifo for start, then executes the plugin in its own place. It
// returns only on failure.
func jailInit(s jail.Sys, cfgFile, syncFile *os.File) error {
	var cfg jailInitConfig
	err := json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		return jailReply(syncFile, fmt.Errorf("read config: %w", err))
	}
	ex, err := jailPrepare(s, &cfg)
	if err != nil {
		return jailReply(syncFile, err)
	}
	if err := jailReply(syncFile, nil); err != nil {
		return err
	}
	// Block until start writes to exec.fifo.
	var b [1]byte
	_, err = ex.fifo.Read(b[:])
	ex.fifo.Close()
	if err != nil {
		return fmt.Errorf("wait for start on %s: %w", cfg.Fifo, err)
	}
	return ex.run(s, &cfg)
}

// jailReply sends err (or success when nil) to Create and closes the pipe.
func jailReply(sync *os.File, err error) error {
	msg := jailInitReply{}
	if err != nil {
		msg.Error = err.Error()
	}
	data, _ := json.Marshal(msg)
	_, werr := sync.Write(data)
	sync.Close()
	if err != nil {
		return err
	}
	return werr
}

// jailFDLimit is a descriptor the plugin inherits and its Capsicum limits.
type jailFDLimit struct {
	fd     int
	limits jail.FDLimits
}

// jailExecution holds what jailPrepare opened and decided for run.
type jailExecution struct {
	fifo     *os.File
	path     string // program path inside the jail
	prog     *os.File
	interp   string
	interpFD int
	libs     []int
	fds      []jailFDLimit
}

// jailPrepare does everything that can fail before the container counts as
// created, so that Create reports it: limits, credentials, jail_attach,
// cwd, no_new_privs, the program lookup and, for Capsicum, the classes of
// the inherited descriptors and the files rtld will need.
func jailPrepare(s jail.Sys, cfg *jailInitConfig) (*jailExecution, error) {
	if len(cfg.Args) == 0 {
		return nil, errors.New("process.args: empty; set the program to run")
	}
	// O_RDWR keeps the FIFO open for reading without a writer, so a later
	// read blocks until start writes instead of returning EOF.
	fifo, err := os.OpenFile(cfg.Fifo, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Fifo, err)
	}
	ex := &jailExecution{fifo: fifo}
	for _, rl := range cfg.Rlimits {
		if err := s.Setrlimit(rl.Resource, rl.Soft, rl.Max); err != nil {
			return nil, fmt.Errorf("process.rlimits: setrlimit(%d): %w", rl.Resource, err)
		}
	}
	// Up to FreeBSD 14 the first setgroups entry is the effective gid, so
	// the list starts with it; setresgid then sets it again.
	if err := s.Setgroups(append([]int{cfg.GID}, cfg.Groups...)); err != nil {
		return nil, fmt.Errorf("process.user.additionalGids: setgroups: %w", err)
	}
	if err := s.Setresgid(cfg.GID, cfg.GID, cfg.GID); err != nil {
		return nil, fmt.Errorf("process.user.gid %d: %w", cfg.GID, err)
	}
	// The real uid becomes the target now and the effective uid stays 0 for
	// jail_attach; afterwards setresuid to the real uid needs no privilege,
	// so this works in jails with allow.suser off.
	if err := s.Setresuid(cfg.UID, 0, 0); err != nil {
		return nil, fmt.Errorf("process.user.uid %d: %w", cfg.UID, err)
	}
	if err := s.JailAttach(cfg.JID); err != nil {
		return nil, fmt.Errorf("jail_attach %d: %w", cfg.JID, err)
	}
	if err := s.Setresuid(cfg.UID, cfg.UID, cfg.UID); err != nil {
		return nil, fmt.Errorf("process.user.uid %d: %w", cfg.UID, err)
	}
	s.Umask(cfg.Umask)
	if err := s.Chdir(cfg.Cwd); err != nil {
		return nil, fmt.Errorf("process.cwd %s: %w", cfg.Cwd, err)
	}
	if cfg.NoNewPrivileges {
		if err := s.ProcctlSelf(jail.ProcNoNewPrivsCtl, jail.ProcNoNewPrivEnable); err != nil {
			return nil, fmt.Errorf("process.noNewPrivileges: procctl(PROC_NO_NEW_PRIVS_CTL): %w (it needs FreeBSD 14.0 or later)", err)
		}
	}
	ex.path, err = jail.LookPath(cfg.Args[0], cfg.Env, cfg.Cwd, s.Executable)
	if err != nil {
		return nil, err
	}
	if !cfg.Capsicum {
		return ex, nil
	}
	if cfg.TrapCap {
		if err := s.ProcctlSelf(jail.ProcTrapcapCtl, jail.ProcTrapcapEnable); err != nil {
			return nil, fmt.Errorf("annotations[%q]: procctl(PROC_TRAPCAP_CTL): %w", bundle.AnnotationTrapCap, err)
		}
	}
	for fd := 0; fd < 3+cfg.PreserveFDs; fd++ {
		l, err := jailClassify(s, fd)
		if err != nil {
			return nil, fmt.Errorf("capsicum: %w", err)
		}
		ex.fds = append(ex.fds, jailFDLimit{fd, l})
	}
	progFD, err := s.Open(ex.path, jail.ORdonly)
	if err != nil {
		return nil, fmt.Errorf("capsicum: open program %s: %w", ex.path, err)
	}
	ex.prog = os.NewFile(uintptr(progFD), ex.path)
	if ex.interp, err = jail.Interpreter(ex.prog); err != nil {
		return nil, fmt.Errorf("capsicum: %s: %w (only ELF programs can run in capability mode)", ex.path, err)
	}
	if ex.interp == "" {
		return ex, nil
	}
	if ex.interpFD, err = s.Open(ex.interp, jail.ORdonly); err != nil {
		return nil, fmt.Errorf("capsicum: open runtime linker %s: %w", ex.interp, err)
	}
	// rtld cannot read its hints file in capability mode; its directories
	// are opened here instead.
	var hints []string
	if data, err := s.ReadFile(jail.HintsFile(ex.interp)); err == nil {
		hints, _ = jail.ParseHints(data)
	}
	for _, d := range jail.LibraryDirs(ex.interp, hints) {
		fd, err := s.Open(d, jail.ORdonly|jail.ODirectory)
		if errors.Is(err, jail.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("capsicum: open library directory %s: %w", d, err)
		}
		ex.libs = append(ex.libs, fd)
	}
	return ex, nil
}

// jailClassify decides the Capsicum limits of inherited descriptor fd from
// what F_KINFO says it is and how it was opened.
func jailClassify(s jail.Sys, fd int) (jail.FDLimits, error) {
	fi, err := s.FileInfo(fd)
	if err != nil {
		return jail.FDLimits{}, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	status, err := s.StatusFlags(fd)
	if err != nil {
		return jail.FDLimits{}, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	listening := false
	if fi.Type == jail.KFTypeSocket {
		if listening, err = s.Listening(fd); err != nil {
			return jail.FDLimits{}, fmt.Errorf("descriptor %d: %w", fd, err)
		}
	}
	l, err := jail.LimitsFor(jail.Classify(fi, listening), jail.AccessModeOf(status))
	if err != nil {
		return jail.FDLimits{}, fmt.Errorf("descriptor %d (a %s): %w", fd, fi.TypeName(), err)
	}
	return l, nil
}

// run closes every descriptor the plugin was not given, applies Capsicum
// when asked and executes the plugin. It returns only on failure.
func (ex *jailExecution) run(s jail.Sys, cfg *jailInitConfig) error {
	if cfg.Trace {
		// The marker: a call capability mode refuses, recorded before
		// anything of the plugin, so plugbox trace can tell the helper's
		// records from the plugin's and knows the kernel traces at all.
		s.Chdir(jail.TraceMarker)
	}
	first := 3 + cfg.PreserveFDs
	if err := s.CloseRange(first, jail.CloseRangeCloexec); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	env := cfg.Env
	if _, ok := jail.Getenv(env, "LISTEN_PID"); ok {
		// sd_listen_fds(3) checks LISTEN_PID against getpid(); the plugin
		// keeps the helper's pid across exec.
		env = jail.SetEnv(env, "LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	if !cfg.Capsicum {
		return s.Exec(ex.path, cfg.Args, env)
	}
	for _, f := range ex.fds {
		if err := jailLimit(s, f.fd, f.limits); err != nil {
			return fmt.Errorf("capsicum: %w", err)
		}
	}
	execRights, err := jail.ExecRights()
	if err != nil {
		return err
	}
	libRights, err := jail.LibDirRights()
	if err != nil {
		return err
	}
	progFD := int(ex.prog.Fd())
	if ex.interp != "" {
		// rtld needs the program and library descriptors after the exec.
		for _, fd := range ex.libs {
			if err := s.CapRightsLimit(fd, libRights); err != nil {
				return fmt.Errorf("capsicum: cap_rights_limit library directory fd %d: %w", fd, err)
			}
		}
		for _, fd := range append([]int{progFD}, ex.libs...) {
			if err := s.SetCloexec(fd, false); err != nil {
				return fmt.Errorf("capsicum: clear FD_CLOEXEC: %w", err)
			}
		}
		env = jail.SetEnv(env, jail.LibraryPathFDsVar(ex.interp), jail.LibraryPathFDs(ex.libs))
		if err := s.CapRightsLimit(ex.interpFD, execRights); err != nil {
			return fmt.Errorf("capsicum: cap_rights_limit runtime linker: %w", err)
		}
	}
	if err := s.CapRightsLimit(progFD, execRights); err != nil {
		return fmt.Errorf("capsicum: cap_rights_limit program: %w", err)
	}
	if !cfg.Trace {
		if err := s.CapEnter(); err != nil {
			return fmt.Errorf("cap_enter: %w", err)
		}
	}
	if ex.interp != "" {
		return s.Fexecve(ex.interpFD, jail.RtldArgv(ex.interp, progFD, cfg.Args), env)
	}
	return s.Fexecve(progFD, cfg.Args, env)
}
