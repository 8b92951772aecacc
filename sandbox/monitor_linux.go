package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/monitor"
)

// MonitorArg is argv[1] that makes main call MonitorMain: plugbox
// re-executed as a container's monitor process.
const MonitorArg = monitor.ProcessArg

// execFifo is libcontainer's exec fifo in the state directory; it is removed
// when `start` lets the container's process run.
const execFifo = "exec.fifo"

// MonitorMain is a monitor process (see package monitor); it never returns.
func MonitorMain() { monitor.Main() }

// needsMonitor says whether the container gets a monitor process: to serve
// the seccomp listener, to enforce the wall-clock limit wherever the
// container runs (create + start, run --detach, a killed CLI), or to kill
// the plugin when a foreground run dies.
func (p *layerPlan) needsMonitor() bool {
	return p.monitor != "" || p.timeout > 0 || p.foreground
}

// startMonitorProcess starts the container's monitor process before
// libcontainer starts the init, so that its start (and its listener
// process's) overlaps the container's; attachMonitor then hands it the
// container.
func (p *layerPlan) startMonitorProcess(dir string) error {
	if !p.needsMonitor() {
		return nil
	}
	if p.spawned == nil {
		p.spawned = &monitor.Spawn{}
	}
	cfg := monitor.Config{
		ID:      filepath.Base(dir),
		Dir:     dir,
		Log:     filepath.Join(dir, ViolationLogName),
		Mode:    p.monitor,
		Answers: p.answers(),
		Limits:  monitor.DefaultLimits,
		Timeout: p.timeout,
		// libcontainer keeps its state, the exec fifo too, in <dir>/<id>.
		StartFile:     filepath.Join(dir, filepath.Base(dir), execFifo),
		DieWithParent: p.foreground,
		Exec:          p.execd,
		// Root can always join the cgroups libcontainer made; a rootless
		// caller only with a delegated tree, and then `state` says so.
		MustJoin: os.Geteuid() == 0,
		// The listener's process runs the broker, if any (broker_linux.go);
		// Spawn.Start hands it the explicit socket.
		Broker: p.broker,
	}
	return p.spawned.Start(cfg)
}

// attachMonitor hands the monitor process the container libcontainer has
// just started: a pidfd of its init, and its cgroups, which the monitor
// joins.
func (p *layerPlan) attachMonitor(c *libcontainer.Container, process *libcontainer.Process) error {
	if p.spawned == nil || p.spawned.Process() == nil {
		return nil
	}
	pid, err := process.Pid()
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("monitor: pidfd_open of the container's init: %w", err)
	}
	initFD := os.NewFile(uintptr(fd), "init-pidfd")
	defer initFD.Close()
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	proc := p.spawned.Process()
	if err := proc.Attach(initFD, monitor.CgroupsOf(st.CgroupPaths)); err != nil {
		return err
	}
	if p.foreground {
		// This process waits for the plugin and checks then (Wait): the
		// monitor's start overlaps the plugin's instead of adding to it.
		return nil
	}
	// create and run --detach return with the monitor in place, or fail.
	return proc.Ready()
}

// addMonitorState adds what the container's monitor process reports to the
// state's annotations: how complete the violation log is, the wall-clock
// limit in force, and which limit or event ended the plugin.
func addMonitorState(dir string, stopped bool, annotations map[string]string) {
	// Only plugbox says what ended a plugin; a config.json cannot.
	delete(annotations, AnnotationEnded)
	s, err := monitor.ReadStatus(dir)
	switch {
	case err != nil:
		if annotations[AnnotationEnforcedMonitor] != "" {
			annotations[AnnotationEnforcedMonitor] += "; unknown: " + err.Error()
		}
	case s != nil:
		h := s.Health(monitor.StateOf, stopped)
		if h.Monitor != "" {
			annotations[AnnotationEnforcedMonitor] = h.Monitor
		}
		if h.Timeout != "" {
			annotations[AnnotationEnforcedTimeout] = h.Timeout
		}
	}
	// The monitors of exec'd processes write to the same log.
	execs, err := monitor.ReadExecStatuses(dir)
	for _, s := range execs {
		if h := s.Health(monitor.StateOf, stopped); h.Problem != "" && annotations[AnnotationEnforcedMonitor] != "" {
			annotations[AnnotationEnforcedMonitor] += "; an exec'd process's " + strings.TrimPrefix(h.Monitor, string(s.Mode)+"; ")
		}
	}
	if err != nil && annotations[AnnotationEnforcedMonitor] != "" {
		annotations[AnnotationEnforcedMonitor] += "; unknown: " + err.Error()
	}
	if e, err := monitor.ReadEnd(dir); err == nil && e != nil {
		annotations[AnnotationEnded] = e.String()
	}
}
