package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/plugbox/plugbox/internal/trace"
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
	Mode Mode `json:"mode,omitempty"`
	// Answers is how the listener answers (its Mode is Mode); nil with no
	// listener to serve.
	Answers *Policy `json:"answers,omitempty"`
	Limits  Limits  `json:"limits"`
	// Timeout is the wall-clock limit (0: none). It runs from the moment
	// StartFile (libcontainer's exec fifo) is removed, i.e. from `start`;
	// "" means the plugin has already started.
	Timeout   time.Duration `json:"timeout,omitempty"`
	StartFile string        `json:"startFile,omitempty"`
	// DieWithParent kills the container when the process that started
	// the monitor (a foreground `plugbox run`) dies.
	DieWithParent bool `json:"dieWithParent,omitempty"`
	// MustJoin makes a failure to join the container's cgroups fatal.
	MustJoin bool `json:"mustJoin,omitempty"`
	// Exec: the monitor of a process exec'd into a running container; its
	// status has a name of its own (ExecStatusPrefix).
	Exec bool `json:"exec,omitempty"`
	// Broker, when not nil, is the container's broker, which the
	// listener's process runs; BrokerSocket is the explicit protocol's
	// socket (nil for an exec'd process), passed to Start.
	Broker       *BrokerConfig `json:"broker,omitempty"`
	BrokerSocket *os.File      `json:"-"`

	// Descriptor numbers in the supervisor, set by Start.
	ControlFD int `json:"controlFd"`
	ParentFD  int `json:"parentFd"`
	SocketFD  int `json:"socketFd"`
	BrokerFD  int `json:"brokerFd"`
}

// Cgroups are a container's cgroup directories as its monitor uses them.
type Cgroups struct {
	// Join are the directories the monitor joins, so that its CPU time,
	// memory and log pages are charged to the plugin's limits.
	Join []string `json:"join,omitempty"`
	// KillDir is a cgroup v2 directory holding every process of the
	// container and not the monitor (cgroup.kill); ProcsDir one whose
	// cgroup.procs lists them. Either may be "".
	KillDir  string `json:"killDir,omitempty"`
	ProcsDir string `json:"procsDir,omitempty"`
}

// Process is a started supervisor, as seen by the process that started it.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	ctl  int   // control socket, -1 once the handshake is over
	err  error // what the handshake said
}

// Start starts the supervisor of cfg.ID before the container exists, so that
// its start, and its listener process's, overlap the container's: socket,
// when not nil, is the end of the socket on which the exec shim will send
// the seccomp listener. Attach then hands it the container.
func Start(cfg Config, socket *os.File) (*Process, error) {
	if os.Getenv(configEnv) != "" {
		// This program was started as a monitor process but did not hand
		// the execution to Main: starting another would recurse.
		return nil, fmt.Errorf("start monitor: this program runs as a monitor process without calling monitor.Main: dispatch argv[1] %q to it (main, TestMain)", ProcessArg)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "monitor-control")
	defer theirs.Close()
	files := []*os.File{theirs}
	cfg.ControlFD, cfg.ParentFD, cfg.SocketFD, cfg.BrokerFD = 3, -1, -1, -1
	if cfg.DieWithParent {
		fd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			unix.Close(fds[0])
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
	if cfg.BrokerSocket != nil {
		cfg.BrokerFD = 3 + len(files)
		files = append(files, cfg.BrokerSocket)
	}
	cmd, err := command(roleSupervise, cfg, files)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), ctl: fds[0]}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// attachment is the message Attach sends, with a pidfd of the init.
type attachment struct {
	Cgroups Cgroups `json:"cgroups"`
}

// Attach hands the supervisor the container, once libcontainer has started
// its init and made its cgroups: init is a pidfd of the init process.
func (p *Process) Attach(init *os.File, cg Cgroups) error {
	msg, err := json.Marshal(attachment{Cgroups: cg})
	if err != nil {
		return err
	}
	if p.ctl < 0 {
		return p.Ready()
	}
	if err := unix.Sendmsg(p.ctl, msg, unix.UnixRights(int(init.Fd())), nil, unix.MSG_NOSIGNAL); err != nil {
		// It is gone: Ready says why.
		if rerr := p.Ready(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("start monitor: %w", err)
	}
	return nil
}

// Ready waits (up to 10s) until the supervisor is in the container's
// cgroups with its status written, or says why it failed; it then kills it.
func (p *Process) Ready() error {
	if p.ctl < 0 {
		return p.err
	}
	defer func() { unix.Close(p.ctl); p.ctl = -1 }()
	why := "it did not answer within 10s"
	fds := []unix.PollFd{{Fd: int32(p.ctl), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			buf := make([]byte, 4096)
			m, _ := unix.Read(p.ctl, buf)
			msg := string(buf[:max(m, 0)])
			if msg == "ok" {
				return nil
			}
			why = strings.TrimPrefix(msg, "error: ")
			if why == "" {
				why = "it exited before it was ready"
			}
		}
		break
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
	if path := os.Getenv(trace.EnvFile); path != "" {
		// The listener's stages join the start's waterfall.
		cmd.Env = append(cmd.Env, trace.EnvFile+"="+path)
	}
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
	p.closeControl()
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
	p.closeControl()
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *Process) closeControl() {
	if p.ctl >= 0 {
		unix.Close(p.ctl)
		p.ctl = -1
	}
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
	// PLUGBOX_TRACE: the monitor's part of the start's waterfall.
	tracePath := os.Getenv(trace.EnvFile)
	if tracePath != "" {
		trace.Start()
	}
	switch os.Args[2] {
	case roleSupervise:
		err = supervise(cfg)
	case roleServe:
		err = serve(cfg)
	default:
		err = fmt.Errorf("unknown role %q", os.Args[2])
	}
	if tracePath != "" {
		_ = trace.AppendFile(tracePath, trace.Events())
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

// serve is the listener's process: the socket on which the exec shim
// announces the listener as fd 3, a pipe for its counters on fd 4, the
// broker's explicit socket, if any, on fd 5 (brokerFD). It starts
// with the container, so that the shim (which waits for it) and the
// plugin's first notified call need not wait for a process to start.
func serve(cfg Config) error {
	const counters = 4
	// Checked before taking the listener: the shim sees the socket close
	// and fails the start.
	if cfg.Answers == nil || cfg.Answers.Mode != cfg.Mode {
		return fmt.Errorf("monitor of %s: no answers for mode %q", cfg.ID, cfg.Mode)
	}
	ans, err := NewAnswerer(*cfg.Answers)
	if err != nil {
		return err
	}
	sock := os.NewFile(3, "monitor-socket")
	listener, err := AcquireListener(sock)
	sock.Close()
	if errors.Is(err, ErrNoListener) {
		return nil // the container went away before its plugin started
	}
	if err != nil {
		return err // the shim sees the socket close and fails the start
	}
	trace.Mark("monitor: listener taken, shim released")
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
	var b *Broker
	if cfg.Broker != nil {
		var explicit *os.File
		if cfg.BrokerFD >= 0 {
			explicit = os.NewFile(serveBrokerFD, "broker-socket")
			defer explicit.Close()
		}
		if b, err = NewBroker(cfg.Broker, explicit); err != nil {
			// Without its broker the plugin's routed calls would wait:
			// fail, and the kernel answers them ENOSYS.
			return err
		}
		SyncWakeUp(listener)
	}
	err = Serve(listener, rec, ans, report, b)
	trace.Mark("monitor: filter unused, log complete")
	return err
}

// serveBrokerFD is the explicit socket's number in the listener's process.
const serveBrokerFD = 5
