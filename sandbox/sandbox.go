// Package sandbox defines the platform-neutral backend that runs an OCI bundle
// as a container (libcontainer on Linux, a jail on FreeBSD) and the on-disk
// state directory layout the backends share.
package sandbox

import (
	"errors"
	"os"
	"path/filepath"

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
	// ErrNotRunning means the operation needs a created or running container (e.g. kill).
	ErrNotRunning = errors.New("container is not running")
	// ErrUnsupported means the verb or option makes no sense on this platform.
	ErrUnsupported = errors.New("not supported on this platform")
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
}

// plugboxAnnotations returns o.Annotations, decoding them from the spec
// (once) when the caller did not.
func (o *CreateOptions) plugboxAnnotations() (*bundle.Annotations, error) {
	if o.Annotations == nil {
		a, err := bundle.ParseAnnotations(o.Spec.Annotations)
		if err != nil {
			return nil, err
		}
		o.Annotations = a
	}
	return o.Annotations, nil
}

// Container is one container known to a backend.
type Container interface {
	// ID returns the container ID.
	ID() string
	// State returns the OCI state of the container.
	State() (*specs.State, error)
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
