package monitor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Spawn is the monitor of one container, held by the process that creates
// it: the socket pair on which
// the exec shim sends the seccomp listener (when there is one to serve), and
// the monitor process, started once the container's cgroups exist.
type Spawn struct {
	// ShimEnd goes into the container as an extra descriptor (nil without
	// a listener to serve); ReleaseShimEnd closes this process's copy.
	ShimEnd *os.File
	// BrokerEnd is the monitor's end of the broker's explicit socket (nil
	// without one; the plugin's end is among the container process's
	// files). Start hands it to the monitor process.
	BrokerEnd *os.File
	ownEnd    *os.File // goes to the monitor process
	listener  bool     // the monitor serves a seccomp listener
	proc      *Process
}

// NewListenerSpawn makes the socket pair on which the exec shim announces
// its seccomp listener (AcquireListener) to the monitor to come.
func NewListenerSpawn() (*Spawn, error) {
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
	return &Spawn{
		ShimEnd:  os.NewFile(uintptr(fds[0]), "monitor-shim-end"),
		ownEnd:   os.NewFile(uintptr(fds[1]), "monitor-own-end"),
		listener: true,
	}, nil
}

// Wait waits, once the plugin has ended, for the monitor process to finish
// its log (it ends once no process of the container uses the filter),
// stopping it after 5s. A monitor with no log to finish is stopped at once:
// whatever it had to enforce ended with the plugin. It reports a monitor
// that never got ready, whose log cannot be trusted.
func (m *Spawn) Wait() error {
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

// Close releases what this process holds of a monitor whose container was
// never started, and stops its process.
func (m *Spawn) Close() {
	if m.proc != nil {
		m.proc.Kill()
	}
	for _, f := range []*os.File{m.ShimEnd, m.ownEnd, m.BrokerEnd} {
		if f != nil {
			f.Close()
		}
	}
}

// Start starts the monitor process of cfg, handing it the socket's other
// end when there is a listener to serve, and BrokerEnd.
func (m *Spawn) Start(cfg Config) error {
	if m.BrokerEnd != nil {
		cfg.BrokerSocket = m.BrokerEnd
	}
	proc, err := Start(cfg, m.ownEnd)
	for _, f := range []**os.File{&m.ownEnd, &m.BrokerEnd} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
	if err != nil {
		return err
	}
	m.proc = proc
	return nil
}

// Process is the started monitor process, or nil.
func (m *Spawn) Process() *Process { return m.proc }

// ReleaseShimEnd closes this process's copy of ShimEnd once the container
// holds its own.
func (m *Spawn) ReleaseShimEnd() {
	if m.ShimEnd != nil {
		m.ShimEnd.Close()
		m.ShimEnd = nil
	}
}

// chargeControllers are the cgroup v1 controllers the monitor joins: those
// that charge its work to the plugin (CPU, memory, which holds the log's
// pages on a tmpfs, I/O). Not pids, so that a plugin at its pids limit
// cannot stop the monitor from making a thread, nor devices or freezer,
// whose lists (ps, kill --all, pause) should name only the container's own
// processes.
var chargeControllers = []string{"cpu", "cpuacct", "cpuset", "memory", "blkio"}

// CgroupsOf picks, from libcontainer's cgroup paths, the ones the
// monitor joins, and a cgroup v2 directory (cgroup.kill) and one listing
// the container's processes (cgroup.procs) without the monitor.
func CgroupsOf(paths map[string]string) Cgroups {
	var cg Cgroups
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

// StopAll kills what is left of the monitor processes of the container
// whose state directory is dir (one stopped, or still finishing its log),
// so that delete leaves nothing behind and the cgroups they joined can be
// removed; cgroupPaths are the container's (libcontainer's CgroupPaths),
// nil when unknown.
func StopAll(dir string, cgroupPaths map[string]string) {
	statuses, _ := ReadExecStatuses(dir)
	if s, err := ReadStatus(dir); err == nil && s != nil {
		statuses = append(statuses, s)
	}
	for _, s := range statuses {
		KillProc(s.Supervisor)
		if s.Listener != nil {
			KillProc(*s.Listener)
		}
	}
	// Whatever else is in the joined cgroups is the container's, or a
	// monitor process the status did not name yet.
	for _, cgdir := range CgroupsOf(cgroupPaths).Join {
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

// KillProc kills p, if it is still the process the status named, and waits
// up to 2s for it to be gone.
func KillProc(p Proc) {
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
	if StateOf(p) == ProcGone {
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
