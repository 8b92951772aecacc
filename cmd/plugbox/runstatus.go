package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/monitor"
)

// statusFileFlag is --status-file of run and trace.
var statusFileFlag = &cli.StringFlag{Name: "status-file", Usage: "write how the plugin ended (or why plugbox failed) to this file as JSON: see the verb's description"}

// statusHelp describes the --status-file record, for the verbs' descriptions.
const statusHelp = `--status-file FILE is written (atomically) once the plugin has ended:
   {"exitCode": N, "signal": "SIGKILL", "reason": "exited|signaled|timeout|cancelled",
   "detail": "...", "violations": [denied calls, as 'violations --format json'],
   "violationsIncomplete": "why some denied calls are missing, if they are"}.
   When plugbox itself fails, it holds {"reason": "error", "error": "..."}
   instead (no exitCode; with "exitCode" too when the failure came after the
   plugin ended, e.g. a failed delete), the error is not repeated on stderr
   if --log names a file, and plugbox exits with status 1. So a plugin that
   exits 1 cannot be taken for plugbox failing.`

// Values of runStatus.Reason.
const (
	reasonExited    = "exited"    // the plugin exited on its own
	reasonSignaled  = "signaled"  // a signal killed it (seccomp's kill action, kill ID)
	reasonTimeout   = "timeout"   // the wall-clock limit killed it
	reasonCancelled = "cancelled" // the --hold-fd caller went away, which killed it
	reasonError     = "error"     // plugbox failed
)

// runStatus is the record of --status-file.
type runStatus struct {
	// ExitCode is the plugin's status, 128+N when signal N killed it; nil
	// when the plugin never ran to an end.
	ExitCode *int `json:"exitCode,omitempty"`
	// Signal names the signal that killed the plugin.
	Signal string `json:"signal,omitempty"`
	Reason string `json:"reason"`
	// Detail says more about the reason, in one line.
	Detail string `json:"detail,omitempty"`
	// Violations are the calls the seccomp profile denied.
	Violations []monitor.Event `json:"violations,omitempty"`
	// Incomplete says, in one line, why Violations may miss denied calls
	// (the log's bounds, a monitor that died).
	Incomplete string `json:"violationsIncomplete,omitempty"`
	// Learned is trace's result.
	Learned *learnedSummary `json:"learned,omitempty"`
	// Error is plugbox's own failure.
	Error string `json:"error,omitempty"`
}

// learnedSummary is what trace learned, beside the profile it writes.
type learnedSummary struct {
	Groups   []string `json:"groups"`
	Extra    []string `json:"extra"`
	Network  string   `json:"network"`
	Distinct int      `json:"distinct"`
}

// statusRecorder writes --status-file, when the flag is set.
type statusRecorder struct {
	path    string
	written *runStatus // the last record written
}

// newStatusRecorder returns the recorder of --status-file, or nil without it.
func newStatusRecorder(ctx *cli.Context) (*statusRecorder, error) {
	path := ctx.String("status-file")
	if path == "" {
		return nil, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("--status-file %s: %w", path, err)
	}
	return &statusRecorder{path: abs}, nil
}

// ended records how the plugin ended: its wait status and why.
func (r *statusRecorder) ended(status int, reason, detail string, violations []monitor.Event, incomplete string) error {
	if r == nil {
		return nil
	}
	st := &runStatus{ExitCode: &status, Reason: reason, Detail: detail, Violations: violations, Incomplete: incomplete}
	if status > 128 && status <= 128+64 {
		st.Signal = unix.SignalName(syscall.Signal(status - 128))
	}
	return r.write(st)
}

// learned records trace's result.
func (r *statusRecorder) learned(status int, l learnedSummary) error {
	if r == nil {
		return nil
	}
	reason := reasonExited
	if status > 128 {
		reason = reasonSignaled
	}
	return r.write(&runStatus{ExitCode: &status, Reason: reason, Learned: &l})
}

// finish records err, plugbox's own failure, keeping what was recorded of
// the plugin's end, and returns the error for main: marked recorded, so
// that main does not print it on stderr beside the plugin's output.
func (r *statusRecorder) finish(err error) error {
	var code exitCode
	if r == nil || err == nil || errors.As(err, &code) {
		return err
	}
	st := &runStatus{Reason: reasonError}
	if r.written != nil {
		*st = *r.written
	}
	st.Error = err.Error()
	if werr := r.write(st); werr != nil {
		return fmt.Errorf("%w (and %v)", err, werr)
	}
	return recordedError{err}
}

func (r *statusRecorder) write(st *runStatus) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("--status-file: %w", err)
	}
	r.written = st
	return nil
}

// recordedError is an error already written to --status-file: main logs
// it (to --log) but does not repeat it on stderr, which a foreground run
// shares with the plugin.
type recordedError struct{ err error }

func (e recordedError) Error() string { return e.err.Error() }
func (e recordedError) Unwrap() error { return e.err }
