package plugbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultBinary is the plugbox executable looked up on PATH when
// Job.Binary is empty.
const DefaultBinary = "plugbox"

// Job describes one sandboxed run of a plugin bundle.
type Job struct {
	// Binary is the plugbox executable: a path, or a name looked up on
	// PATH; "" means DefaultBinary.
	Binary string
	// Root is the state directory (plugbox --root); "" means the CLI's
	// default (/run/plugbox for root).
	Root string
	// Bundle is the bundle directory (config.json and rootfs), e.g. one
	// written by Author.
	Bundle string
	// ID names the sandbox under Root; "" means a fresh unique ID.
	ID string
	// Stdin, Stdout and Stderr are the plugin's standard streams; nil
	// means /dev/null. An *os.File is passed to the plugin as it is; any
	// other reader or writer is copied through a pipe. Run does not wait
	// for a Stdin that has not reached end-of-file when the plugin exits.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Files become the plugin's descriptors 3, 4, ... in order: the
	// descriptors the manifest names in "fds" (LISTEN_FDS and
	// LISTEN_FDNAMES tell the plugin their names). There must be exactly
	// one per name, except "host" when Create supplies it. Directories
	// and O_PATH descriptors are refused: they reach outside the sandbox.
	Files []*os.File
	// Timeout is the plugin's wall-clock limit from its start; 0 means
	// the bundle's (the manifest's limits.timeout). A longer one than the
	// manifest's is allowed: the host is trusted.
	Timeout time.Duration
}

// Result is how a plugin ended.
type Result struct {
	// ID is the sandbox's ID (Job.ID or the one chosen for it).
	ID string
	// ExitCode is the plugin's exit status, 128+N when signal N killed it.
	ExitCode int
	// Signal is the signal that killed the plugin, e.g. "SIGKILL"; "" when
	// it exited.
	Signal string
	// Reason is one of ReasonExited, ReasonSignaled, ReasonTimeout or
	// ReasonCancelled.
	Reason string
	// Detail says more about Reason in one line, when plugbox knows more
	// (e.g. "wall-clock limit 10s exceeded").
	Detail string
	// Violations are the system calls the seccomp profile denied, in the
	// order they happened; runs of identical calls are one Violation with
	// a Count.
	Violations []Violation
	// Incomplete says in one line why Violations may miss denied calls
	// (the violation log's rate or size limit, a monitor that died); ""
	// when they are all there.
	Incomplete string
}

// Values of Result.Reason.
const (
	ReasonExited    = "exited"    // the plugin exited on its own
	ReasonSignaled  = "signaled"  // a signal killed it (seccomp's kill action, Signal)
	ReasonTimeout   = "timeout"   // the wall-clock limit killed it
	ReasonCancelled = "cancelled" // its context was cancelled or Delete was called
)

// Violation is one system call the plugin's seccomp profile denied (it
// failed with EPERM, or killed the plugin), as plugbox's monitor logged it.
type Violation struct {
	// Syscall is the call's name, e.g. "ptrace".
	Syscall string `json:"syscall"`
	// Nr is its number on Arch.
	Nr int `json:"nr"`
	// Arch is the architecture of the call, e.g. "amd64".
	Arch string `json:"arch"`
	// Args are its six arguments.
	Args []uint64 `json:"args"`
	// Pid is the calling process's host PID.
	Pid int `json:"pid"`
	// Time is when the monitor saw it.
	Time time.Time `json:"time"`
	// Count is how many identical calls this record stands for (at least
	// 1); Last is when the last of them was made, if more than one.
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Error is a failure of plugbox itself, as opposed to the plugin's exit
// status: a bundle it refused, a sandbox it could not create, a binary
// that could not run.
type Error struct {
	// Op is the plugbox verb, e.g. "run".
	Op string
	// ID is the sandbox's ID.
	ID string
	// Message is plugbox's own one-line message.
	Message string
	// Err is the underlying error, when the failure was not plugbox's
	// message (e.g. the binary could not be started).
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.ID == "" {
		return fmt.Sprintf("plugbox %s: %s", e.Op, msg)
	}
	return fmt.Sprintf("plugbox %s %s: %s", e.Op, e.ID, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// newID returns a fresh sandbox ID: "pb-" and 16 random hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "pb-" + hex.EncodeToString(b[:])
}

// binaryPath resolves Job.Binary.
func binaryPath(name string) (string, error) {
	if name == "" {
		name = DefaultBinary
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &Error{Op: "find", Message: fmt.Sprintf("Job.Binary %q: %v: install plugbox on PATH or name the binary in Job.Binary", name, err), Err: err}
	}
	return filepath.Abs(p)
}

// globalArgs are the flags before the verb: --root, and --log so that
// plugbox's messages go to a file and not to the plugin's stderr.
func globalArgs(root, logFile string) []string {
	var args []string
	if root != "" {
		args = append(args, "--root", root)
	}
	if logFile != "" {
		args = append(args, "--log", logFile, "--log-format", "json")
	}
	return args
}

// runArgs is the plugbox command line of a sandbox: run in the foreground
// with the hold socket on fd 3+len(files), the status file and the
// plugin's descriptors.
func runArgs(j *Job, id, dir string, files int) []string {
	args := globalArgs(j.Root, filepath.Join(dir, "log"))
	args = append(args, "run",
		"--bundle", j.Bundle,
		"--status-file", filepath.Join(dir, "status"),
		"--hold-fd", strconv.Itoa(3+files))
	if files > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(files))
	}
	if j.Timeout > 0 {
		args = append(args, "--timeout", j.Timeout.String())
	}
	return append(args, id)
}

// status is the record of run --status-file (see 'plugbox run --help').
type status struct {
	ExitCode   *int           `json:"exitCode"`
	Signal     string         `json:"signal"`
	Reason     string         `json:"reason"`
	Detail     string         `json:"detail"`
	Violations []rawRecord    `json:"violations"`
	Incomplete string         `json:"violationsIncomplete"`
	Learned    *learnedStatus `json:"learned"`
	Error      string         `json:"error"`
}

// learnedStatus is trace's part of the status file.
type learnedStatus struct {
	Groups   []string `json:"groups"`
	Extra    []string `json:"extra"`
	Network  string   `json:"network"`
	Distinct int      `json:"distinct"`
}

// rawRecord is a violation-log record: a Violation and the monitor's
// verdict on it, or a notice about the log itself.
type rawRecord struct {
	Violation
	Action string `json:"action"`
	Notice string `json:"notice"`
}

// readStatus reads a status file; a missing one is (nil, nil).
func readStatus(path string) (*status, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("status file %s: %w", path, err)
	}
	return &st, nil
}

// violations keeps the denied calls of a log's records.
func violations(recs []rawRecord) []Violation {
	var out []Violation
	for _, r := range recs {
		if r.Notice != "" || r.Syscall == "" || (r.Action != "" && r.Action != "denied") {
			continue
		}
		v := r.Violation
		if v.Count < 1 {
			v.Count = 1
		}
		out = append(out, v)
	}
	return out
}

// result builds a Result from a status with an exit code.
func (st *status) result(id string) *Result {
	return &Result{
		ID:         id,
		ExitCode:   *st.ExitCode,
		Signal:     st.Signal,
		Reason:     st.Reason,
		Detail:     st.Detail,
		Violations: violations(st.Violations),
		Incomplete: st.Incomplete,
	}
}

// lastLogError returns the message of the last error in a --log-format
// json file, or "".
func lastLogError(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(lines[i], &entry) == nil && (entry.Level == "error" || entry.Level == "fatal") {
			return entry.Msg
		}
	}
	return ""
}

// command runs a short plugbox verb (state, kill, delete, violations) and
// returns its standard output; a failure is an *Error with plugbox's
// message.
func command(ctx context.Context, bin, root, op, id string, args ...string) ([]byte, error) {
	full := append(globalArgs(root, ""), op)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg[strings.LastIndexByte(msg, '\n')+1:], "plugbox: ")
		return nil, &Error{Op: op, ID: id, Message: msg, Err: err}
	}
	return stdout.Bytes(), nil
}
