package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// StatusName is the file, in a container's state directory, where the
// monitor process keeps its status for `state`, `violations` and `delete`.
const StatusName = "monitor.status"

// statusSize is the fixed size of the status file. It is written in place,
// over blocks allocated when it was created, so that it can still be
// updated when the file system is full (which is when it matters most).
const statusSize = 4096

// Proc names a process: its pid and its start time (field 22 of
// /proc/PID/stat), which tells a reused pid apart.
type Proc struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Status is what the monitor process reports about itself.
type Status struct {
	// Supervisor is the monitor process of the container (timeout, die
	// with parent, watchdog); Listener the child that serves the seccomp
	// listener, once the plugin has started.
	Supervisor Proc  `json:"supervisor"`
	Listener   *Proc `json:"listener,omitempty"`
	Mode       Mode  `json:"mode,omitempty"`
	// Timeout is the wall-clock limit, "" if none; Started is when the
	// plugin started (the limit runs from there).
	Timeout string     `json:"timeout,omitempty"`
	Started *time.Time `json:"started,omitempty"`
	// Finished: the plugin is gone and the monitor ended normally, every
	// line written that could be.
	Finished bool `json:"finished"`
	// Log accounts for every answered call.
	Log Counters `json:"log"`
	// ListenerLost says why the listener's process ended before the plugin.
	ListenerLost string `json:"listenerLost,omitempty"`
	// Uncharged says why the monitor is not in the container's cgroups.
	Uncharged string `json:"uncharged,omitempty"`
	// Error is the last thing the supervisor failed to do.
	Error string `json:"error,omitempty"`
	// End repeats the End the supervisor recorded, for when the file
	// system was too full to hold EndName.
	End *End `json:"end,omitempty"`
}

// StatusFile is the status file, open for updates by its only writer.
type StatusFile struct {
	f *os.File
}

// ExecStatusPrefix begins the names of the status files of the monitors of
// processes exec'd into the container ("monitor.exec-PID.status").
const ExecStatusPrefix = "monitor.exec-"

// CreateStatus creates dir's status file at its full size and writes s.
func CreateStatus(dir string, s *Status) (*StatusFile, error) {
	return createStatus(dir, StatusName, s)
}

func createStatus(dir, name string, s *Status) (*StatusFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("monitor status: %w", err)
	}
	sf := &StatusFile{f: f}
	if err := sf.Write(s); err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

// Write replaces the status, in place.
func (sf *StatusFile) Write(s *Status) error {
	data, err := encodeStatus(s)
	if err != nil {
		return err
	}
	if _, err := sf.f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("write monitor status: %w", err)
	}
	return nil
}

// Close closes the file.
func (sf *StatusFile) Close() error { return sf.f.Close() }

// encodeStatus renders s as JSON padded with spaces to statusSize, cutting
// the free-text fields if it would not fit.
func encodeStatus(s *Status) ([]byte, error) {
	c := *s
	for _, limit := range []int{-1, 512, 128, 0} {
		if limit >= 0 {
			c.Error, c.ListenerLost, c.Uncharged, c.Log.WriteError = cut(s.Error, limit), cut(s.ListenerLost, limit), cut(s.Uncharged, limit), cut(s.Log.WriteError, limit)
		}
		data, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		if len(data) < statusSize {
			data = append(data, bytes.Repeat([]byte{' '}, statusSize-1-len(data))...)
			return append(data, '\n'), nil
		}
	}
	return nil, errors.New("monitor status does not fit its file")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ReadStatus reads dir's status file; (nil, nil) when there is none (no
// monitor process was started for the container).
func ReadStatus(dir string) (*Status, error) {
	return readStatus(filepath.Join(dir, StatusName))
}

// ReadExecStatuses reads the status files of the monitors of processes
// exec'd into the container.
func ReadExecStatuses(dir string) ([]*Status, error) {
	paths, err := filepath.Glob(filepath.Join(dir, ExecStatusPrefix+"*.status"))
	if err != nil {
		return nil, err
	}
	var out []*Status
	for _, p := range paths {
		s, err := readStatus(p)
		if err != nil {
			return out, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func readStatus(path string) (*Status, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("monitor status: %w", err)
	}
	defer f.Close()
	buf := make([]byte, statusSize)
	// The writer updates in place; a read that overlaps an update may see
	// a mix, which does not decode: read again.
	for try := 0; ; try++ {
		n, err := f.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("monitor status: %w", err)
		}
		if n == 0 {
			return nil, nil // being created: nothing to say yet
		}
		var s Status
		if err := json.Unmarshal(bytes.TrimRight(buf[:n], " \n\x00"), &s); err == nil {
			return &s, nil
		} else if try == 4 {
			return nil, fmt.Errorf("monitor status %s: %w", f.Name(), err)
		}
		time.Sleep(time.Millisecond)
	}
}

// ProcState is what became of a process.
type ProcState int

const (
	// ProcRunning: the process exists (running or sleeping).
	ProcRunning ProcState = iota
	// ProcStopped: stopped by a signal or a tracer.
	ProcStopped
	// ProcGone: exited (a zombie counts), or the pid now names another process.
	ProcGone
)

// Health says how much of what a container's monitor enforces still holds,
// in the words `state` and `violations` print.
type Health struct {
	// Monitor is for annotation org.plugbox.enforced.monitor: the mode,
	// followed by "; degraded: ..." or "; lost: ..." when the log is not
	// complete.
	Monitor string
	// Timeout is for org.plugbox.enforced.timeout: the limit, followed by
	// "; lost: ..." when nothing enforces it any more.
	Timeout string
	// Problem is one line, "" when the log is complete and every limit
	// still enforced.
	Problem string
}

// Health judges s, asking state what became of its processes. Once the
// container has stopped, a supervisor that is gone no longer matters (its
// limits ended with the plugin); a log that is incomplete still does.
func (s *Status) Health(state func(Proc) ProcState, stopped bool) Health {
	var h Health
	var logProblem, timeoutProblem string
	supervisor := ProcGone
	if !s.Finished {
		supervisor = state(s.Supervisor)
	}
	switch {
	case s.ListenerLost != "":
		logProblem = "lost: " + s.ListenerLost
	case !s.Finished && s.Listener != nil && state(*s.Listener) == ProcGone:
		logProblem = fmt.Sprintf("lost: the monitor process (pid %d) is gone; the kernel fails every later notified call with ENOSYS, unlogged", s.Listener.Pid)
	case !s.Finished && s.Listener == nil && s.Mode != "" && supervisor == ProcGone && !stopped:
		logProblem = fmt.Sprintf("lost: the monitor process (pid %d) is gone before the plugin started; no call will be logged", s.Supervisor.Pid)
	}
	if s.Log.Lost > 0 {
		degraded := fmt.Sprintf("degraded: %d calls answered but not logged (%s)", s.Log.Lost, s.Log.WriteError)
		if logProblem == "" {
			logProblem = degraded
		} else {
			logProblem += "; " + degraded
		}
	}
	if !s.Finished && !stopped {
		switch supervisor {
		case ProcGone:
			timeoutProblem = fmt.Sprintf("lost: the monitor process (pid %d) is gone", s.Supervisor.Pid)
		case ProcStopped:
			timeoutProblem = fmt.Sprintf("suspended: the monitor process (pid %d) is stopped", s.Supervisor.Pid)
		}
	}
	if s.Mode != "" {
		h.Monitor = string(s.Mode)
		if s.Uncharged != "" {
			// Not a gap in the log, but the plugin's limits do not bound
			// what the monitor spends on it.
			h.Monitor += "; not charged to the container: " + s.Uncharged
		}
		if logProblem != "" {
			h.Monitor += "; " + logProblem
			h.Problem = "violation log " + logProblem
		}
	}
	if s.Timeout != "" {
		h.Timeout = s.Timeout
		if timeoutProblem != "" {
			h.Timeout += "; " + timeoutProblem
			if h.Problem == "" {
				h.Problem = "wall-clock limit " + s.Timeout + " " + timeoutProblem
			}
		}
	}
	return h
}

// EndName is the file, in a container's state directory, that says which
// limit or event ended the plugin, when plugbox knows.
const EndName = "ended.json"

// Causes of an End. The monitor records the ones it enforces; other parts
// of plugbox add theirs (memory, pids) with RecordEnd.
const (
	// CauseTimeout: the wall-clock limit passed.
	CauseTimeout = "timeout"
	// CauseParentDied: the foreground `plugbox run` that owned the plugin died.
	CauseParentDied = "parent-died"
	// CauseMemory: the OOM killer killed a process at the memory limit
	// (recorded by the backend from the cgroup's counters).
	CauseMemory = "memory"
	// CausePids: the pids limit refused a fork or a thread (a constraint
	// the backend reports, not an end).
	CausePids = "pids"
)

// End records which limit or event ended a plugin.
type End struct {
	// Cause is one of the Cause constants.
	Cause string `json:"cause"`
	// Detail is one line for a person, e.g. "wall-clock limit 2s exceeded".
	Detail string    `json:"detail"`
	Time   time.Time `json:"time"`
}

// String is the one line `state` and `run` print: "CAUSE: DETAIL".
func (e End) String() string { return e.Cause + ": " + e.Detail }

// RecordEnd records e in dir unless an End is already recorded: the first
// cause wins (a timeout's SIGKILL must not be reported later as, say, a
// memory kill). It reports whether e was recorded.
func RecordEnd(dir string, e End) (bool, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, ".ended-*")
	if err != nil {
		return false, fmt.Errorf("record end: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("record end: %w", err)
	}
	// link(2) fails when the name exists: first writer wins, atomically.
	if err := os.Link(tmp.Name(), filepath.Join(dir, EndName)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("record end: %w", err)
	}
	return true, nil
}

// ReadEnd returns the End recorded in dir, or nil.
func ReadEnd(dir string) (*End, error) {
	data, err := os.ReadFile(filepath.Join(dir, EndName))
	if errors.Is(err, os.ErrNotExist) {
		if s, serr := ReadStatus(dir); serr == nil && s != nil && s.End != nil {
			return s.End, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", EndName, err)
	}
	var e End
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, EndName), err)
	}
	return &e, nil
}
