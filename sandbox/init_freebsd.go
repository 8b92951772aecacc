package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/plugbox/plugbox/jail"
	"golang.org/x/sys/unix"
)

// FreeBSDInitArg is the hidden first argument with which Create re-executes
// the plugbox binary as the container's init helper. main must call
// FreeBSDInitMain when os.Args[1] == FreeBSDInitArg, before anything else.
const FreeBSDInitArg = "jail-init"

// initFDEnv names the environment variable that tells the helper which
// descriptor carries its configuration; the sync pipe is the next one.
const initFDEnv = "_PLUGBOX_JAIL_INIT_FD"

// initConfig is what Create sends the helper over the config pipe.
type initConfig struct {
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
	Capsicum    bool          `json:"capsicum,omitempty"`
	PreserveFDs int           `json:"preserveFds,omitempty"`
}

// initReply is the helper's one message on the sync pipe.
type initReply struct {
	Error string `json:"error,omitempty"`
}

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC from sys/unistd.h.
const closeRangeCloexec = 1 << 2

// FreeBSDInitMain is the container init helper: it joins the jail, drops to
// process.user, waits on exec.fifo for start, then (optionally entering
// Capsicum capability mode) executes the plugin in its own place. It never
// returns.
func FreeBSDInitMain() {
	runtime.LockOSThread()
	err := jailInit()
	fmt.Fprintf(os.Stderr, "plugbox jail-init: %v\n", err)
	os.Exit(127)
}

func jailInit() error {
	fd, err := strconv.Atoi(os.Getenv(initFDEnv))
	if err != nil || fd < 3 {
		return fmt.Errorf("%s is not set: this command is run by plugbox create, not by hand", initFDEnv)
	}
	unix.CloseOnExec(fd)
	unix.CloseOnExec(fd + 1)
	cfgFile := os.NewFile(uintptr(fd), "init-config")
	syncFile := os.NewFile(uintptr(fd+1), "init-sync")
	var cfg initConfig
	err = json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		return reply(syncFile, fmt.Errorf("read config: %w", err))
	}
	ex, err := prepare(&cfg)
	if err != nil {
		return reply(syncFile, err)
	}
	if err := reply(syncFile, nil); err != nil {
		return err
	}
	// Block until start writes to exec.fifo.
	var b [1]byte
	_, err = ex.fifo.Read(b[:])
	ex.fifo.Close()
	if err != nil {
		return fmt.Errorf("wait for start on %s: %w", cfg.Fifo, err)
	}
	return ex.run(&cfg)
}

// reply sends err (or success when nil) to Create and closes the pipe.
func reply(sync *os.File, err error) error {
	msg := initReply{}
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

// execution holds what prepare opened for run.
type execution struct {
	fifo    *os.File
	path    string   // program path inside the jail
	prog    *os.File // program, Capsicum only
	interp  *os.File // runtime linker, Capsicum and dynamic only
	interpP string
	libs    []*os.File
}

// prepare does everything that can fail before the container counts as
// created, so Create reports it: jail_attach, credentials, limits, cwd and
// the program lookup.
func prepare(cfg *initConfig) (*execution, error) {
	if len(cfg.Args) == 0 {
		return nil, errors.New("process.args: empty; set the program to run")
	}
	// O_RDWR keeps the FIFO open for reading without a writer, so a later
	// read blocks until start writes instead of returning EOF.
	fifo, err := os.OpenFile(cfg.Fifo, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Fifo, err)
	}
	ex := &execution{fifo: fifo}
	for _, rl := range cfg.Rlimits {
		lim := unix.Rlimit{Cur: int64(clampRlim(rl.Soft)), Max: int64(clampRlim(rl.Max))}
		if err := unix.Setrlimit(rl.Resource, &lim); err != nil {
			return nil, fmt.Errorf("process.rlimits: setrlimit(%d): %w", rl.Resource, err)
		}
	}
	// Up to FreeBSD 14 the first setgroups entry is the effective gid, so
	// the list starts with it; setresgid then sets it again.
	if err := unix.Setgroups(append([]int{cfg.GID}, cfg.Groups...)); err != nil {
		return nil, fmt.Errorf("process.user.additionalGids: setgroups: %w", err)
	}
	if err := unix.Setresgid(cfg.GID, cfg.GID, cfg.GID); err != nil {
		return nil, fmt.Errorf("process.user.gid %d: %w", cfg.GID, err)
	}
	// The real uid becomes the target now and the effective uid stays 0 for
	// jail_attach; afterwards setresuid to the real uid needs no privilege,
	// so this works in jails with allow.suser off.
	if err := unix.Setresuid(cfg.UID, 0, 0); err != nil {
		return nil, fmt.Errorf("process.user.uid %d: %w", cfg.UID, err)
	}
	if err := jail.Attach(cfg.JID); err != nil {
		return nil, err
	}
	if err := unix.Setresuid(cfg.UID, cfg.UID, cfg.UID); err != nil {
		return nil, fmt.Errorf("process.user.uid %d: %w", cfg.UID, err)
	}
	unix.Umask(cfg.Umask)
	if err := os.Chdir(cfg.Cwd); err != nil {
		return nil, fmt.Errorf("process.cwd: %w", err)
	}
	ex.path, err = jail.LookPath(cfg.Args[0], cfg.Env, cfg.Cwd, executable)
	if err != nil {
		return nil, err
	}
	if !cfg.Capsicum {
		return ex, nil
	}
	if ex.prog, err = os.Open(ex.path); err != nil {
		return nil, fmt.Errorf("capsicum: open program: %w", err)
	}
	if ex.interpP, err = jail.Interpreter(ex.prog); err != nil {
		return nil, fmt.Errorf("capsicum: %s: %w (only ELF programs can run in capability mode)", ex.path, err)
	}
	if ex.interpP == "" {
		return ex, nil
	}
	if ex.interp, err = os.Open(ex.interpP); err != nil {
		return nil, fmt.Errorf("capsicum: open runtime linker: %w", err)
	}
	for _, d := range jail.LibraryDirs(cfg.Env) {
		f, err := os.OpenFile(d, os.O_RDONLY|unix.O_DIRECTORY, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("capsicum: open library directory: %w", err)
		}
		ex.libs = append(ex.libs, f)
	}
	return ex, nil
}

func clampRlim(v uint64) uint64 {
	if v > 1<<63-1 {
		return 1<<63 - 1 // RLIM_INFINITY
	}
	return v
}

func executable(p string) bool {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	return unix.Access(p, unix.X_OK) == nil
}

// run closes every descriptor the plugin was not given, applies Capsicum
// when asked and executes the plugin. It returns only on failure.
func (ex *execution) run(cfg *initConfig) error {
	first := 3 + cfg.PreserveFDs
	if _, _, errno := unix.Syscall(unix.SYS_CLOSE_RANGE, uintptr(first), uintptr(^uint32(0)), closeRangeCloexec); errno != 0 {
		return fmt.Errorf("close_range: %w", errno)
	}
	if !cfg.Capsicum {
		return unix.Exec(ex.path, cfg.Args, cfg.Env)
	}
	inherited := make([]int, first)
	for i := range inherited {
		inherited[i] = i
	}
	if err := jail.LimitInherited(inherited); err != nil {
		return fmt.Errorf("capsicum: %w", err)
	}
	execRights, err := jail.ExecRights()
	if err != nil {
		return err
	}
	libRights, err := jail.LibDirRights()
	if err != nil {
		return err
	}
	env := cfg.Env
	if ex.interp != nil {
		// rtld needs the program and library descriptors after the exec.
		keep := []*os.File{ex.prog}
		var fds []int
		for _, l := range ex.libs {
			keep = append(keep, l)
			fds = append(fds, int(l.Fd()))
			if err := jail.Limit(int(l.Fd()), libRights); err != nil {
				return fmt.Errorf("capsicum: %w", err)
			}
		}
		for _, f := range keep {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
				return fmt.Errorf("capsicum: clear FD_CLOEXEC: %w", err)
			}
		}
		env = jail.SetEnv(env, "LD_LIBRARY_PATH_FDS", jail.LibraryPathFDs(fds))
		if err := jail.Limit(int(ex.interp.Fd()), execRights); err != nil {
			return fmt.Errorf("capsicum: %w", err)
		}
	}
	if err := jail.Limit(int(ex.prog.Fd()), execRights); err != nil {
		return fmt.Errorf("capsicum: %w", err)
	}
	if err := jail.EnterCapabilityMode(); err != nil {
		return err
	}
	if ex.interp != nil {
		return jail.Fexecve(int(ex.interp.Fd()), jail.RtldArgv(ex.interpP, int(ex.prog.Fd()), cfg.Args), env)
	}
	return jail.Fexecve(int(ex.prog.Fd()), cfg.Args, env)
}
