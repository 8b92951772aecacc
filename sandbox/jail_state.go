package sandbox

// This file and the other jail_*.go files are the FreeBSD backend's logic.
// They carry no build tag: every system call goes through jail.Sys, so the
// sequences run in Linux tests against jailtest.Fake; backend_freebsd.go
// and init_freebsd.go plug in the real calls.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/jail"
)

// Files in a FreeBSD container's state directory.
const (
	jailStateFile  = "state.json"
	jailFifoFile   = "exec.fifo"
	jailKtraceFile = "ktrace.out"
)

// jailMount is a mount a container holds, with the file system id that
// statfs(2) reported right after nmount(2): teardown unmounts by that id
// (MNT_BYFSID), and only while the target still shows it, so neither a
// path that now resolves elsewhere nor a stale record after a reboot can
// make it unmount something else.
type jailMount struct {
	Target string    `json:"target"`
	FSID   jail.FSID `json:"fsid"`
	Type   string    `json:"type"`
}

// jailState is <root>/<id>/state.json for the FreeBSD backend: enough to
// find and tear down every resource a container holds even when the create
// that made it crashed half way.
type jailState struct {
	ID       string `json:"id"`
	Bundle   string `json:"bundle"`
	Rootfs   string `json:"rootfs"`
	JailName string `json:"jailName"`
	// JID is the jid jail_set returned. It is never trusted alone: the
	// jail is looked up by name, and is this container's only if its jid
	// and path match.
	JID int `json:"jid,omitempty"`
	// JailPending is set while jail_set runs: a crash there leaves a jail
	// whose jid was never saved, found by name and path.
	JailPending bool                 `json:"jailPending,omitempty"`
	Pid         int                  `json:"pid,omitempty"`
	Status      specs.ContainerState `json:"status"`
	Created     time.Time            `json:"created"`
	// Mounts are the mounts made so far, in mount order; teardown
	// unmounts them in reverse.
	Mounts []jailMount `json:"mounts,omitempty"`
	// Rules are the rctl_remove_rule filters of the rules added.
	Rules []string `json:"rctlRules,omitempty"`
	// Skipped lists Linux-only mounts entries that were left out.
	Skipped     []string          `json:"skippedMounts,omitempty"`
	Capsicum    bool              `json:"capsicum,omitempty"`
	Monitor     string            `json:"monitor,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func saveJailState(dir string, st *jailState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, jailStateFile), data, 0o600); err != nil {
		return fmt.Errorf("save state of %s: %w", st.ID, err)
	}
	return nil
}

func loadJailState(dir, id string) (*jailState, error) {
	data, err := os.ReadFile(filepath.Join(dir, jailStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	var st jailState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", id, jailStateFile, err)
	}
	return &st, nil
}

// lockJailDir takes an flock(2) on the container directory (LOCK_SH or
// LOCK_EX) so concurrent commands on one id serialise.
func lockJailDir(dir string, how int) (unlock func(), err error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", filepath.Base(dir), ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
