package sandbox

import (
	"path/filepath"
	"time"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
)

// Annotations plugbox adds to a container's state (never read from input).
const (
	// AnnotationEnded says, in one line, which limit or event ended the
	// plugin when plugbox knows: "timeout: wall-clock limit 2s exceeded".
	AnnotationEnded = bundle.AnnotationEnded
	// AnnotationEnforcedMonitor is the seccomp monitor's mode, followed by
	// "; degraded: ..." or "; lost: ..." when its log is not complete.
	AnnotationEnforcedMonitor = "org.plugbox.enforced.monitor"
	// AnnotationEnforcedTimeout is the wall-clock limit the monitor process
	// enforces, followed by "; lost: ..." when nothing enforces it any more.
	AnnotationEnforcedTimeout = "org.plugbox.enforced.timeout"
)

// MonitorReport is what a container's monitor process reports.
type MonitorReport struct {
	// Problem is one line when the violation log is incomplete (records
	// lost, the monitor dead) or a limit is no longer enforced; "" when
	// all is well or the container has no monitor process.
	Problem string
	// End is the limit or event that ended the plugin, if plugbox knows.
	End *monitor.End
	// Active: the monitor process still runs (its log may still grow).
	Active bool
}

// ReadMonitorReport reads the report of container id under root; stopped
// says whether the container has stopped.
func ReadMonitorReport(root, id string, stopped bool) (MonitorReport, error) {
	dir := filepath.Join(root, id)
	var r MonitorReport
	s, err := monitor.ReadStatus(dir)
	if err != nil {
		return r, err
	}
	if s != nil {
		r.Problem = s.Health(monitor.StateOf, stopped).Problem
		r.Active = !s.Finished && monitor.StateOf(s.Supervisor) != monitor.ProcGone
	}
	// The monitors of exec'd processes write to the same log.
	execs, err := monitor.ReadExecStatuses(dir)
	if err != nil {
		return r, err
	}
	for _, s := range execs {
		if p := s.Health(monitor.StateOf, stopped).Problem; p != "" && r.Problem == "" {
			r.Problem = "an exec'd process's " + p
		}
	}
	r.End, err = monitor.ReadEnd(dir)
	return r, err
}

// WaitMonitor waits up to timeout for container id's monitor process to
// finish writing its log (it writes its last counts as the plugin ends).
func WaitMonitor(root, id string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r, err := ReadMonitorReport(root, id, true); err != nil || !r.Active {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
