package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/monitor"
)

// MonitorArg is argv[1] that makes main call MonitorMain: the process that
// holds a container's seccomp listener for as long as the plugin runs.
const MonitorArg = "__plugbox-monitor"

// monitorSpawn is the monitor of one container, a goroutine of this
// process (foreground run, which outlives the plugin anyway) or a process of
// its own (create, run --detach), and the socket end the container's exec
// shim sends the listener on.
type monitorSpawn struct {
	shimEnd  *os.File      // goes into the container as an extra descriptor
	finished chan struct{} // closed when the monitor has written its log
	kill     func()        // stops a monitor that outlives its plugin
}

// startMonitor starts the monitor with one end of a socket pair; the other
// end goes to the shim, which announces its listener there (monitor.
// AcquireListener). inProcess serves it from a goroutine, which saves
// starting a process; otherwise it is `plugbox __plugbox-monitor MODE ID
// LOG` in its own session.
func startMonitor(mode monitor.Mode, root, id string, inProcess bool, mb *monitorBroker) (*monitorSpawn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("monitor socket pair: %w", err)
	}
	// The kernel attaches the shim's pid to what it sends, translated into
	// this pid namespace.
	if err := unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("monitor socket: SO_PASSCRED: %w", err)
	}
	ownEnd := os.NewFile(uintptr(fds[1]), "monitor-own-end")
	m := &monitorSpawn{
		shimEnd:  os.NewFile(uintptr(fds[0]), "monitor-shim-end"),
		finished: make(chan struct{}),
		kill:     func() {},
	}
	logPath := ViolationLog(root, id)
	if inProcess {
		go func() {
			defer close(m.finished)
			if err := runMonitor(ownEnd, mode, id, logPath, mb); err != nil {
				fmt.Fprintf(os.Stderr, "plugbox: monitor of %s: %v\n", id, err)
			}
		}()
		return m, nil
	}
	defer ownEnd.Close()
	self, err := os.Executable()
	var env []string
	if err == nil {
		env, err = mb.env()
	}
	if err != nil {
		m.shimEnd.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	cmd := exec.Command(self, MonitorArg, string(mode), id, logPath)
	cmd.ExtraFiles = []*os.File{ownEnd}
	if mb != nil && mb.explicit != nil {
		defer mb.explicit.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, mb.explicit) // brokerFD
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		m.shimEnd.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	m.kill = func() { _ = cmd.Process.Kill() }
	go func() { _ = cmd.Wait(); close(m.finished) }()
	return m, nil
}

// wait waits for the monitor to finish its log: it ends once no process
// uses the filter (or, before the plugin started, once the shim's end of
// the socket is closed). A monitor still running after 5s is stopped.
func (m *monitorSpawn) wait() {
	select {
	case <-m.finished:
	case <-time.After(5 * time.Second):
		m.kill()
	}
}

// MonitorMain is the monitor process: it takes the listener announced on fd 3,
// then serves it until the plugin's processes are gone. It never returns.
func MonitorMain() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "plugbox: monitor: usage: MODE ID LOG")
		os.Exit(2)
	}
	mode, err := monitor.ParseMode(os.Args[2])
	var mb *monitorBroker
	if err == nil {
		mb, err = brokerFromEnv()
	}
	if err == nil {
		err = runMonitor(os.NewFile(3, "monitor-socket"), mode, os.Args[3], os.Args[4], mb)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: monitor of %s: %v\n", os.Args[3], err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runMonitor takes the listener from the shim at the other end of sock and
// serves it, logging to logPath; with mb, its broker answers first.
func runMonitor(sock *os.File, mode monitor.Mode, id, logPath string, mb *monitorBroker) error {
	listener, err := monitor.AcquireListener(sock)
	sock.Close()
	if err != nil && mb != nil && mb.explicit != nil {
		mb.explicit.Close()
	}
	if errors.Is(err, monitor.ErrNoListener) {
		return nil // the container went away before its plugin started
	}
	if err != nil {
		return err // the shim sees the socket close and fails the start
	}
	defer unix.Close(listener)
	monitor.SyncWakeUp(listener)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	defer log.Close()
	shared := &monitor.SyncWriter{W: log}
	b, err := startBroker(mb, id, shared)
	if err != nil {
		return err
	}
	return monitor.Serve(listener, mode, id, shared, b.Transparent())
}
