package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

// monitorSpawn is the monitor of one container: the socket pair on which
// the exec shim sends the seccomp listener (when there is one to serve), and
// the monitor process, started once the container's cgroups exist.
type monitorSpawn struct {
	shimEnd *os.File // goes into the container as an extra descriptor
	ownEnd  *os.File // goes to the monitor process
	// brokerEnd is the monitor's end of the broker's explicit socket
	// (nil without one); the plugin's end is among the process's files.
	brokerEnd *os.File
	listener  bool // the monitor serves a seccomp listener
	proc      *monitor.Process
}

// newMonitorSocket makes the socket pair on which the exec shim announces
// its seccomp listener (monitor.AcquireListener).
func newMonitorSocket() (*monitorSpawn, error) {
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
	return &monitorSpawn{
		shimEnd:  os.NewFile(uintptr(fds[0]), "monitor-shim-end"),
		ownEnd:   os.NewFile(uintptr(fds[1]), "monitor-own-end"),
		listener: true,
	}, nil
}

// wait waits, once the plugin has ended, for the monitor process to finish
// its log (it ends once no process of the container uses the filter),
// stopping it after 5s. A monitor with no log to finish is stopped at once:
// whatever it had to enforce ended with the plugin. It reports a monitor
// that never got ready, whose log cannot be trusted.
func (m *monitorSpawn) wait() error {
	if m.proc == nil {
		return nil
	}
	if !m.listener {
		m.proc.Kill()
		return nil
	}
	err := m.proc.Ready()
	m.proc.Wait(5 * time.Second)
	return err
}

// close releases what this process holds of a monitor whose container was
// never started, and stops its process.
func (m *monitorSpawn) close() {
	if m.proc != nil {
		m.proc.Kill()
	}
	for _, f := range []*os.File{m.shimEnd, m.ownEnd, m.brokerEnd} {
		if f != nil {
			f.Close()
		}
	}
}

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
		p.spawned = &monitorSpawn{}
	}
	cfg := monitor.Config{
		ID:      filepath.Base(dir),
		Dir:     dir,
		Log:     filepath.Join(dir, ViolationLogName),
		Mode:    p.monitor,
		Limits:  monitor.DefaultLimits,
		Timeout: p.timeout,
		// libcontainer keeps its state, the exec fifo too, in <dir>/<id>.
		StartFile:     filepath.Join(dir, filepath.Base(dir), execFifo),
		DieWithParent: p.foreground,
		Exec:          p.execd,
		// Root can always join the cgroups libcontainer made; a rootless
		// caller only with a delegated tree, and then `state` says so.
		MustJoin: os.Geteuid() == 0,
		// The listener's process runs the broker, if any (broker_linux.go).
		Broker:       p.broker,
		BrokerSocket: p.spawned.brokerEnd,
	}
	proc, err := monitor.Start(cfg, p.spawned.ownEnd)
	for _, f := range []**os.File{&p.spawned.ownEnd, &p.spawned.brokerEnd} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
	if err != nil {
		return err
	}
	p.spawned.proc = proc
	return nil
}

// attachMonitor hands the monitor process the container libcontainer has
// just started: a pidfd of its init, and its cgroups, which the monitor
// joins.
func (p *layerPlan) attachMonitor(c *libcontainer.Container, process *libcontainer.Process) error {
	if p.spawned == nil || p.spawned.proc == nil {
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
	proc := p.spawned.proc
	if err := proc.Attach(initFD, monitorCgroupsOf(st.CgroupPaths)); err != nil {
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

// chargeControllers are the cgroup v1 controllers the monitor joins: those
// that charge its work to the plugin (CPU, memory, which holds the log's
// pages on a tmpfs, I/O). Not pids, so that a plugin at its pids limit
// cannot stop the monitor from making a thread, nor devices or freezer,
// whose lists (ps, kill --all, pause) should name only the container's own
// processes.
var chargeControllers = []string{"cpu", "cpuacct", "cpuset", "memory", "blkio"}

// monitorCgroupsOf picks, from libcontainer's cgroup paths, the ones the
// monitor joins, and a cgroup v2 directory (cgroup.kill) and one listing
// the container's processes (cgroup.procs) without the monitor.
func monitorCgroupsOf(paths map[string]string) monitor.Cgroups {
	var cg monitor.Cgroups
	joined := map[string]bool{}
	for _, name := range chargeControllers {
		if dir, ok := paths[name]; ok && dir != "" && !joined[dir] {
			joined[dir] = true
			cg.Join = append(cg.Join, dir)
		}
	}
	unified := paths[""]
	switch {
	case len(cg.Join) == 0 && unified != "":
		// cgroup v2 alone: one directory for every controller.
		cg.Join = []string{unified}
		cg.ProcsDir = unified
	case unified != "":
		cg.KillDir = unified
	}
	if cg.ProcsDir == "" {
		for _, name := range []string{"devices", "pids", "freezer"} {
			if dir := paths[name]; dir != "" {
				cg.ProcsDir = dir
				break
			}
		}
	}
	return cg
}

// stopMonitor kills what is left of a container's monitor processes (one
// stopped, or still finishing its log), so that delete leaves nothing
// behind and libcontainer can remove the cgroups they joined.
func stopMonitor(c *libcontainer.Container, dir string) {
	statuses, _ := monitor.ReadExecStatuses(dir)
	if s, err := monitor.ReadStatus(dir); err == nil && s != nil {
		statuses = append(statuses, s)
	}
	for _, s := range statuses {
		killProc(s.Supervisor)
		if s.Listener != nil {
			killProc(*s.Listener)
		}
	}
	st, err := c.State()
	if err != nil {
		return
	}
	// Whatever else is in the joined cgroups is the container's, or a
	// monitor process the status did not name yet.
	for _, cgdir := range monitorCgroupsOf(st.CgroupPaths).Join {
		for i := 0; i < 100; i++ {
			data, err := os.ReadFile(filepath.Join(cgdir, "cgroup.procs"))
			pids := strings.Fields(string(data))
			if err != nil || len(pids) == 0 {
				break
			}
			for _, field := range pids {
				if pid, err := strconv.Atoi(field); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// killProc kills p, if it is still the process the status named, and waits
// up to 2s for it to be gone.
func killProc(p monitor.Proc) {
	if p.Pid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	// The pidfd now holds whatever has that pid; kill it only if that is
	// still the process of the status (same start time).
	if monitor.StateOf(p) == monitor.ProcGone {
		return
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, 2000); !errors.Is(err, unix.EINTR) {
			return
		}
	}
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
