package sandbox

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
)

const (
	stateFile = "state.json"
	fifoFile  = "exec.fifo"
)

// jailState is <root>/<id>/state.json for the FreeBSD backend: enough to
// find and tear down every resource a container holds even when the create
// that made it crashed half way.
type jailState struct {
	ID       string               `json:"id"`
	Bundle   string               `json:"bundle"`
	Rootfs   string               `json:"rootfs"`
	JailName string               `json:"jailName"`
	JID      int                  `json:"jid,omitempty"`
	Pid      int                  `json:"pid,omitempty"`
	Status   specs.ContainerState `json:"status"`
	Created  time.Time            `json:"created"`
	// Mounts are the mount points made so far, in mount order; delete
	// unmounts them in reverse.
	Mounts []string `json:"mounts,omitempty"`
	// Skipped lists Linux-only mounts entries that were left out.
	Skipped     []string          `json:"skippedMounts,omitempty"`
	Capsicum    bool              `json:"capsicum,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func saveState(dir string, st *jailState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("save state of %s: %w", st.ID, err)
	}
	return nil
}

func loadState(dir, id string) (*jailState, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	var st jailState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", id, stateFile, err)
	}
	return &st, nil
}

// lockDir takes an flock(2) on the container directory (LOCK_SH or
// LOCK_EX) so concurrent commands on one id serialise.
func lockDir(dir string, how int) (unlock func(), err error) {
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
