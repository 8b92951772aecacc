package sandbox

import (
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

// monitorSpawn is the monitor process of one container and the socket end
// the container's exec shim sends the listener on.
type monitorSpawn struct {
	cmd       *exec.Cmd
	shimEnd   *os.File // goes into the container as an extra descriptor
	ownEnd    *os.File // handed to the monitor process
	logPath   string
	container string
}

// startMonitor starts `plugbox __plugbox-monitor MODE ID LOG` in its own
// session with one end of a socket pair; the other end goes to the shim.
func startMonitor(mode monitor.Mode, root, id string) (*monitorSpawn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("monitor socket pair: %w", err)
	}
	m := &monitorSpawn{
		shimEnd:   os.NewFile(uintptr(fds[0]), "monitor-shim-end"),
		ownEnd:    os.NewFile(uintptr(fds[1]), "monitor-own-end"),
		logPath:   ViolationLog(root, id),
		container: id,
	}
	self, err := os.Executable()
	if err != nil {
		m.closeEnds()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m.cmd = exec.Command(self, MonitorArg, string(mode), id, m.logPath)
	m.cmd.ExtraFiles = []*os.File{m.ownEnd}
	m.cmd.Stderr = os.Stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := m.cmd.Start(); err != nil {
		m.closeEnds()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	m.ownEnd.Close()
	return m, nil
}

// wait waits for the monitor to finish its log: it exits once no process
// uses the filter. A monitor still running after 5s is killed.
func (m *monitorSpawn) wait() {
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
}

func (m *monitorSpawn) closeEnds() {
	m.shimEnd.Close()
	m.ownEnd.Close()
}

// MonitorMain is the monitor process: it waits for the listener on fd 3,
// then serves it until the plugin's processes are gone. It never returns.
func MonitorMain() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "plugbox: monitor: usage: MODE ID LOG")
		os.Exit(2)
	}
	mode, err := monitor.ParseMode(os.Args[2])
	if err == nil {
		err = runMonitor(mode, os.Args[3], os.Args[4])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: monitor of %s: %v\n", os.Args[3], err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runMonitor(mode monitor.Mode, id, logPath string) error {
	sock := os.NewFile(3, "monitor-socket")
	listener, err := monitor.ReceiveListener(sock)
	sock.Close()
	if err != nil {
		return nil // the container went away before its plugin started
	}
	defer unix.Close(listener)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	defer log.Close()
	return monitor.Serve(listener, mode, id, log)
}
