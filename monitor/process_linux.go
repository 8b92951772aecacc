package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessArg is argv[1] of plugbox re-executed as a monitor process; main
// hands such an execution to Main before any CLI code runs.
const ProcessArg = "__plugbox-monitor"

// The two monitor processes of a container: the supervisor (one per
// container that needs one: a wall-clock limit, a foreground run, or a
// seccomp listener) and its child serving the seccomp listener. Keeping the
// listener in a process of its own lets the supervisor notice when it dies
// or is stopped, and say so, or kill it so that the kernel answers the
// plugin's waiting calls (ENOSYS) instead of holding them forever.
const (
	roleSupervise = "supervise"
	roleServe     = "serve"
	configEnv     = "_PLUGBOX_MONITOR"
)

// StopDeadline is how long the listener's process may stay stopped (SIGSTOP,
// a tracer) before the supervisor kills it: a stopped listener holds every
// notified call of the plugin. The plugin waits at most about this long
// plus watchEvery.
const StopDeadline = 2 * time.Second

// watchEvery is how often the supervisor looks at the listener's process.
const watchEvery = 250 * time.Millisecond

// Config is what the monitor processes of one container need.
type Config struct {
	// ID is the container's; Dir its state directory (status, end record);
	// Log its violation log.
	ID  string `json:"id"`
	Dir string `json:"dir"`
	Log string `json:"log"`
	// Mode is the seccomp listener's, "" when there is none to serve.
	Mode   Mode   `json:"mode,omitempty"`
	Limits Limits `json:"limits"`
	// Timeout is the wall-clock limit (0: none). It runs from the moment
	// StartFile (libcontainer's exec fifo) is removed, i.e. from `start`;
	// "" means the plugin has already started.
	Timeout   time.Duration `json:"timeout,omitempty"`
	StartFile string        `json:"startFile,omitempty"`
	// DieWithParent kills the container when the process that started
	// the monitor (a foreground `plugbox run`) dies.
	DieWithParent bool `json:"dieWithParent,omitempty"`
	// Join are the container's cgroup directories the monitor joins, so
	// that its CPU time, memory and log pages are charged to the plugin's
	// limits. MustJoin makes a failure to join fatal.
	Join     []string `json:"join,omitempty"`
	MustJoin bool     `json:"mustJoin,omitempty"`
	// KillDir is a cgroup v2 directory holding every process of the
	// container and not the monitor (cgroup.kill); ProcsDir one whose
	// cgroup.procs lists them. Either may be "".
	KillDir  string `json:"killDir,omitempty"`
	ProcsDir string `json:"procsDir,omitempty"`

	// Descriptor numbers in the supervisor, set by Start.
	ReadyFD  int `json:"readyFd"`
	InitFD   int `json:"initFd"`
	ParentFD int `json:"parentFd"`
	SocketFD int `json:"socketFd"`
}

// Process is a started supervisor, as seen by the process that started it.
type Process struct {
	cmd   *exec.Cmd
	done  chan struct{}
	ready *os.File // read end of the handshake, nil once read
	err   error    // what the handshake said
}

// Start starts the supervisor of cfg.ID. init is a pidfd of the container's
// init process; socket, when not nil, is the end of the socket on which the
// exec shim sends the seccomp listener. Ready says when it is in the
// container's cgroups with its status written; a caller may start the
// plugin meanwhile (the supervisor also counts the wall-clock limit from a
// start it missed, and dies with a parent that is already gone).
func Start(cfg Config, init, socket *os.File) (*Process, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	files := []*os.File{readyW, init}
	cfg.ReadyFD, cfg.InitFD, cfg.ParentFD, cfg.SocketFD = 3, 4, -1, -1
	if cfg.DieWithParent {
		fd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			readyW.Close()
			return nil, fmt.Errorf("start monitor: pidfd_open: %w", err)
		}
		parent := os.NewFile(uintptr(fd), "parent-pidfd")
		defer parent.Close()
		cfg.ParentFD = 3 + len(files)
		files = append(files, parent)
	}
	if socket != nil {
		cfg.SocketFD = 3 + len(files)
		files = append(files, socket)
	}
	cmd, err := command(roleSupervise, cfg, files)
	if err == nil {
		err = cmd.Start()
	}
	readyW.Close()
	if err != nil {
		readyR.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), ready: readyR}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Ready waits (up to 10s) until the supervisor is in the container's
// cgroups with its status written, or says why it failed; it then kills it.
func (p *Process) Ready() error {
	if p.ready == nil {
		return p.err
	}
	defer func() { p.ready.Close(); p.ready = nil }()
	_ = p.ready.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, rerr := io.ReadAll(io.LimitReader(p.ready, 4096))
	if string(msg) == "ok" {
		return nil
	}
	why := strings.TrimPrefix(string(msg), "error: ")
	if why == "" {
		why = "it exited before it was ready"
		if rerr != nil {
			why = rerr.Error()
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.err = fmt.Errorf("start monitor: %s", why)
	return p.err
}

// command prepares plugbox re-executed as a monitor process in role.
func command(role string, cfg Config, files []*os.File) (*exec.Cmd, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe", ProcessArg, role, cfg.ID)
	// One P is plenty, and keeps the thread count low.
	cmd.Env = []string{configEnv + "=" + string(raw), "GOMAXPROCS=1"}
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd, nil
}

// Pid is the supervisor's pid.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits up to timeout for the supervisor to finish (the plugin gone,
// the log complete), then kills it. It reports whether it finished.
func (p *Process) Wait(timeout time.Duration) bool {
	if p.ready != nil {
		p.ready.Close()
		p.ready = nil
	}
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

// Kill stops the supervisor now, when it has nothing left to do.
func (p *Process) Kill() {
	if p.ready != nil {
		p.ready.Close()
		p.ready = nil
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Main runs a monitor process; it never returns.
func Main() {
	var cfg Config
	err := json.Unmarshal([]byte(os.Getenv(configEnv)), &cfg)
	if err != nil || len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "plugbox: the monitor process is started by plugbox itself, with its configuration")
		os.Exit(2)
	}
	_ = os.Unsetenv(configEnv)
	// It ends with the container, not with a polite signal meant for the
	// container's processes or for the CLI's process group; and it must
	// not hold a directory someone wants to unmount.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	_ = os.Chdir("/")
	switch os.Args[2] {
	case roleSupervise:
		err = supervise(cfg)
	case roleServe:
		err = serve(cfg)
	default:
		err = fmt.Errorf("unknown role %q", os.Args[2])
	}
	if err != nil {
		if err != errSaid {
			fmt.Fprintf(os.Stderr, "plugbox: monitor of %s: %v\n", cfg.ID, err)
		}
		os.Exit(1)
	}
	os.Exit(0)
}

// errSaid is a failure already reported to the process that started the
// supervisor.
var errSaid = errors.New("reported to the starter")

// serve is the listener's process: the socket the exec shim sends the
// listener on as fd 3, a pipe for its counters on fd 4. It starts with the
// container, so that the plugin's first notified call need not wait for a
// process to start.
func serve(cfg Config) error {
	const counters = 4
	sock := os.NewFile(3, "monitor-socket")
	listener, err := ReceiveListener(sock)
	sock.Close()
	if err != nil {
		return nil // the container went away before its plugin started
	}
	_ = unix.SetNonblock(counters, true)
	w, err := OpenLog(cfg.Log, cfg.Limits.MaxBytes)
	if err != nil {
		// Still answer every call (denied), and count each as lost.
		w = brokenLog(cfg.Log, err)
	}
	defer w.Close()
	rec := NewRecorder(w, cfg.Mode, cfg.ID, cfg.Limits, time.Now())
	report := func(c Counters) {
		c.WriteError = cut(c.WriteError, 512) // one line stays below PIPE_BUF: written whole or not at all
		data, _ := json.Marshal(c)
		// Non-blocking: a stopped supervisor must not stop the listener.
		// The counters are running totals, so a skipped line loses nothing.
		_, _ = unix.Write(counters, append(data, '\n'))
	}
	return Serve(listener, rec, report)
}
