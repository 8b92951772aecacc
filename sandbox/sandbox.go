// Package sandbox defines the platform-neutral backend that runs an OCI bundle
// as a container (libcontainer on Linux, a jail on FreeBSD) and the on-disk
// state directory layout the backends share.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/sandbox/store"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrNotExist means no container with that ID exists under the root.
	ErrNotExist = store.ErrNotExist
	// ErrExist means a container with that ID already exists under the root.
	ErrExist = store.ErrExist
	// ErrNotCreated means the operation needs a container in the "created" state.
	ErrNotCreated = errors.New("container is not in the created state")
	// ErrRunning means the operation refuses a running container (e.g. delete without --force).
	ErrRunning = errors.New("container is running")
	// ErrNotRunning means the operation needs a created or running container
	// (e.g. kill). Its text is runc's: containerd's shim matches "container
	// not running" to treat a stopped container as gone.
	ErrNotRunning = errors.New("container not running")
	// ErrUnsupported means the verb or option makes no sense on this platform.
	ErrUnsupported = errors.New("not supported on this platform")
	// ErrPaused means the operation refuses a paused container (exec without
	// --ignore-paused).
	ErrPaused = errors.New("container is paused")
	// ErrNotPaused means resume was asked of a container that is not paused.
	ErrNotPaused = errors.New("container is not paused")
)

// ValidateID reports whether id can name a container: runc's characters,
// at most store.MaxIDLen bytes. Every platform applies the same rule.
func ValidateID(id string) error { return store.ValidateID(id) }

// Status values of the OCI runtime spec's state (runtime.md "State").
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
)

// CreateOptions carries what the create and run verbs pass to a backend.
type CreateOptions struct {
	ID     string      // container ID, already validated
	Bundle string      // absolute path of the bundle directory
	Spec   *specs.Spec // config.json of the bundle, already validated
	// PidFile, when set, receives the container process's host PID.
	PidFile string
	// ConsoleSocket is the AF_UNIX socket that receives the pty master when
	// process.terminal is true.
	ConsoleSocket string
	// NoPivot uses MS_MOVE + chroot instead of pivot_root (Linux only).
	NoPivot bool
	// PreserveFDs passes fds 3 .. 3+N-1 of the caller to the container process.
	PreserveFDs int
	// Stdin, Stdout and Stderr are handed to the container process when it
	// has no terminal; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File
	// Foreground keeps the process a child of the caller so Wait works (run
	// without --detach).
	Foreground bool
	// Monitor, when "violations" or "learning", routes the seccomp profile's
	// denied (or, learning, unknown) calls to a listener that logs them in
	// the state directory (Linux only).
	Monitor string
	// Annotations are the spec's plugbox annotations, decoded; nil makes
	// the backend decode them from Spec.
	Annotations *bundle.Annotations
	// RootlessCgroups ignores cgroup permission errors, as runc's
	// --rootless; a limit that cannot be applied still fails the create.
	RootlessCgroups bool
}

// plugboxAnnotations returns o.Annotations, decoding them from the spec
// (once) when the caller did not.
func (o *CreateOptions) plugboxAnnotations() (*bundle.Annotations, error) {
	if o.Annotations == nil {
		a, err := bundle.ParseAnnotations(o.Spec.Annotations)
		if err != nil {
			return nil, fmt.Errorf("config.json: %w", err)
		}
		o.Annotations = a
	}
	return o.Annotations, nil
}

// ExecOptions carries what the exec verb passes to a backend: one more
// process in a created or running container.
type ExecOptions struct {
	// Process is the process to run, already validated; an exec'd process
	// of a plugbox sandbox gets the sandbox's layers whatever it says.
	Process *specs.Process
	// PidFile, when set, receives the new process's host PID.
	PidFile string
	// ConsoleSocket receives the pty master when Process.Terminal is set
	// and Detach is true.
	ConsoleSocket string
	// Detach returns once the process runs; otherwise the caller waits.
	Detach bool
	// PreserveFDs passes fds 3 .. 3+N-1 of the caller to the process.
	PreserveFDs int
	// Stdin, Stdout and Stderr are handed to the process when it has no
	// terminal; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
}

// Process is a process started by Container.Exec.
type Process interface {
	// Pid returns the host PID of the process.
	Pid() int
	// Wait waits for the process (not for a detached one) and returns its
	// exit status, 128+N when it died of signal N.
	Wait() (int, error)
}

// Info is what runc's state and list report beyond the OCI state.
type Info struct {
	Rootfs  string    // host path of the root filesystem
	Created time.Time // when the container was created
	Owner   string    // user name (or uid) of the container's creator
}

// Stats are a container's resource counters, laid out (in JSON) as the
// matching fields of runc's "events --stats" output.
type Stats struct {
	CPU struct {
		Usage struct {
			Total  uint64 `json:"total,omitempty"` // nanoseconds
			Kernel uint64 `json:"kernel"`          // nanoseconds
			User   uint64 `json:"user"`            // nanoseconds
		} `json:"usage"`
		Throttling struct {
			Periods          uint64 `json:"periods,omitempty"`
			ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
			ThrottledTime    uint64 `json:"throttledTime,omitempty"`
		} `json:"throttling"`
	} `json:"cpu"`
	Memory struct {
		Cache uint64      `json:"cache,omitempty"`
		Usage MemoryEntry `json:"usage"`
		Swap  MemoryEntry `json:"swap"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current,omitempty"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
}

// MemoryEntry is one memory counter of Stats, in bytes.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Container is one container known to a backend.
type Container interface {
	// ID returns the container ID.
	ID() string
	// State returns the OCI state of the container.
	State() (*specs.State, error)
	// Info returns what runc's state adds to the OCI state.
	Info() (Info, error)
	// Exec runs one more process in a created or running container.
	Exec(opts ExecOptions) (Process, error)
	// Pause freezes every process of the container.
	Pause() error
	// Resume thaws a paused container.
	Resume() error
	// Update changes the resource limits of a created, running or paused
	// container; only the fields set in r change.
	Update(r *specs.LinuxResources) error
	// Stats returns the container's resource counters.
	Stats() (*Stats, error)
	// Start runs the user process of a created container.
	Start() error
	// Signal sends sig to the init process, or with all to every process.
	Signal(sig os.Signal, all bool) error
	// Delete removes the container and every resource it holds; a running
	// container is refused with ErrRunning unless force, which kills it first.
	Delete(force bool) error
	// Processes returns the host PIDs of the processes in the container.
	Processes() ([]int, error)
	// Wait waits for the init process to exit and returns its wait status;
	// it works only in the process that created a Foreground container.
	Wait() (int, error)
}

// Backend creates and loads containers under one state root directory.
type Backend interface {
	// Create sets up the container and its init process, stopped before the
	// user process runs (the "created" state).
	Create(opts CreateOptions) (Container, error)
	// Load returns the container with that ID, or ErrNotExist.
	Load(id string) (Container, error)
	// List returns the IDs of every container under the root.
	List() ([]string, error)
}

// IncompleteAnnotation is the key state adds to a container whose create
// was interrupted (status "stopped"); its value says how to remove it.
const IncompleteAnnotation = "org.plugbox.incomplete"

// ViolationLogName is the file, in a container's state directory, where the
// seccomp monitor appends one JSON line per notified system call.
const ViolationLogName = "violations.jsonl"

// ViolationLog returns the path of a container's violation log.
func ViolationLog(root, id string) string { return filepath.Join(root, id, ViolationLogName) }
