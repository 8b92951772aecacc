package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/nsutil"
	"github.com/plugbox/plugbox/sandbox/store"
)

// The Linux state directory of a container is <root>/<id>/, made and
// locked by package store; libcontainer keeps its own state (state.json,
// exec.fifo) in <root>/<id>/<id>/, which it insists on creating itself.
// Until libcontainer has written state.json the container is unfinished:
// its create is still running (it holds the lock) or was killed.

// createRecordName is the file, written before libcontainer creates
// anything, from which a delete can undo an interrupted create.
const createRecordName = "create.json"

// createRecord is what an interrupted create may have left behind.
type createRecord struct {
	Bundle  string          `json:"bundle"`
	Created time.Time       `json:"created"`
	Cgroups *cgroups.Cgroup `json:"cgroups,omitempty"`
}

func writeCreateRecord(dir string, rec *createRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, createRecordName), data, 0o600)
}

func readCreateRecord(dir string) (*createRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, createRecordName))
	if err != nil {
		return nil, err
	}
	var rec createRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, createRecordName), err)
	}
	return &rec, nil
}

// loadLibcontainer loads the libcontainer container of id, or returns nil
// (and no error) when its create never got as far as state.json.
func (b *linuxBackend) loadLibcontainer(id string) (*libcontainer.Container, error) {
	c, err := libcontainer.Load(b.root.Dir(id), id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("load %s: %w", id, err)
	}
	return c, nil
}

// lockLoaded takes the lock of container id and loads its state afresh,
// as every verb that changes a container does: what was loaded before the
// lock may be stale. c is nil for an unfinished create.
func (b *linuxBackend) lockLoaded(id string) (*store.Lock, *libcontainer.Container, error) {
	lock, err := b.root.Lock(id)
	if err != nil {
		return nil, nil, err
	}
	c, err := b.loadLibcontainer(id)
	if err != nil {
		lock.Unlock()
		return nil, nil, err
	}
	return lock, c, nil
}

// lockFresh takes the container's lock and reloads its state, for a verb
// that changes it; the caller runs unlock when done.
func (lc *linuxContainer) lockFresh() (unlock func(), err error) {
	lock, c, err := lc.backend.lockLoaded(lc.ID())
	if err != nil {
		return nil, err
	}
	if c == nil {
		lock.Unlock()
		return nil, fmt.Errorf("%s: its create did not finish: %w", lc.ID(), ErrNotRunning)
	}
	lc.c = c
	return lock.Unlock, nil
}

// allocateIDMap gives the sandbox its own host id range when config.json
// asks for one (annotation org.plugbox.idmap "auto"): the maps are written
// into the spec before libcontainer converts it. owner is the container's
// state directory; the range is freed when it is deleted.
func allocateIDMap(opts CreateOptions, owner string) error {
	if !opts.Annotations.AutoIDMap {
		return nil
	}
	l := opts.Spec.Linux
	key := fmt.Sprintf("annotations[%q]", bundle.AnnotationIDMap)
	switch {
	case os.Geteuid() != 0:
		return fmt.Errorf("config.json: %s asks for a host id range of the sandbox's own, which only root can give (uid %d): run as root, or write the bundle as this user ('plugbox bundle init' and 'spec --plugin' then map only your uid)", key, os.Geteuid())
	case l == nil || !newUserNS(l.Namespaces):
		return fmt.Errorf(`config.json: %s asks for a host id range, but linux.namespaces has no new user namespace: add {"type": "user"}, or remove the annotation`, key)
	case len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0:
		return fmt.Errorf("config.json: %s asks for a host id range, but linux.uidMappings or gidMappings are set: remove the maps, or the annotation", key)
	case opts.Spec.Process.User.UID >= nsutil.SandboxIDs || opts.Spec.Process.User.GID >= nsutil.SandboxIDs:
		return fmt.Errorf("config.json: process.user %d:%d is outside the %d ids an allocated range maps: use ids below %d", opts.Spec.Process.User.UID, opts.Spec.Process.User.GID, nsutil.SandboxIDs, nsutil.SandboxIDs)
	}
	al, err := nsutil.NewAllocator().Allocate(owner)
	if err != nil {
		return fmt.Errorf("create %s: %w", opts.ID, err)
	}
	l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: al.UID.Start, Size: al.UID.Size}}
	l.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: al.GID.Start, Size: al.GID.Size}}
	return nil
}

// releaseIDMap frees the range of the container whose state directory is
// owner, if it has one. Only root allocates.
func releaseIDMap(owner string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return nsutil.NewAllocator().Release(owner)
}

func newUserNS(ns []specs.LinuxNamespace) bool {
	for _, n := range ns {
		if n.Type == specs.UserNamespace && n.Path == "" {
			return true
		}
	}
	return false
}

// removeUnfinished undoes an interrupted create under its lock: it kills
// whatever reached the container's cgroups, removes them, frees the id
// range and removes the state directory.
func removeUnfinished(lock *store.Lock) error {
	rec, err := readCreateRecord(lock.Dir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if rec != nil && rec.Cgroups != nil {
		if err := destroyCgroups(rec.Cgroups); err != nil {
			return err
		}
	}
	if err := releaseIDMap(lock.Dir()); err != nil {
		return err
	}
	return lock.RemoveAll()
}

// destroyCgroups kills the processes in the cgroups cg describes and
// removes them. Cgroups that were never made are no error.
func destroyCgroups(cg *cgroups.Cgroup) error {
	m, err := manager.New(cg)
	if err != nil {
		return fmt.Errorf("cgroups of the interrupted create: %w", err)
	}
	if m.Exists() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			pids, err := m.GetAllPids()
			if err != nil || len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("processes %v of the interrupted create survive SIGKILL", pids)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("remove the cgroups of the interrupted create: %w", err)
	}
	return nil
}

// unfinished is a container whose create has not written its state (yet,
// or ever, when that create was killed). State says which; Delete removes
// what the create left; nothing else applies to it.
type unfinished struct {
	b  *linuxBackend
	id string
}

func (u *unfinished) ID() string { return u.id }

// State reports "creating" while a create holds the lock, else "stopped"
// with an annotation saying that the create was interrupted.
func (u *unfinished) State() (*specs.State, error) {
	st := &specs.State{Version: specs.Version, ID: u.id, Status: StatusCreating}
	if rec, err := readCreateRecord(u.b.root.Dir(u.id)); err == nil {
		st.Bundle = rec.Bundle
	}
	lock, busy, err := u.b.root.TryLock(u.id)
	if err != nil {
		return nil, err
	}
	if busy {
		return st, nil
	}
	defer lock.Unlock()
	if c, err := u.b.loadLibcontainer(u.id); err != nil || c != nil {
		// The create finished between Load and the lock.
		if err != nil {
			return nil, err
		}
		return (&linuxContainer{backend: u.b, c: c}).State()
	}
	st.Status = StatusStopped
	st.Annotations = map[string]string{IncompleteAnnotation: "the create of this container was interrupted; 'plugbox delete " + u.id + "' removes what it left"}
	return st, nil
}

func (u *unfinished) Start() error {
	return fmt.Errorf("start %s: its create did not finish: %w (delete it and create it again)", u.id, ErrNotCreated)
}

func (u *unfinished) Signal(os.Signal, bool) error {
	return fmt.Errorf("kill %s: its create did not finish: %w", u.id, ErrNotRunning)
}

// Delete removes what an interrupted create left, with or without force
// (nothing of it runs); if the create finished meanwhile, it deletes the
// container as any other.
func (u *unfinished) Delete(force bool) error {
	lock, c, err := u.b.lockLoaded(u.id)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if c != nil {
		return (&linuxContainer{backend: u.b, c: c}).deleteLocked(lock, force)
	}
	if err := removeUnfinished(lock); err != nil {
		return fmt.Errorf("delete %s: %w", u.id, err)
	}
	return nil
}

func (u *unfinished) Processes() ([]int, error) { return nil, nil }

// notCreated is the error of every verb that needs a created container.
func (u *unfinished) notCreated(verb string) error {
	return fmt.Errorf("%s %s: its create did not finish: %w", verb, u.id, ErrNotRunning)
}

// Info reports when the interrupted create began and who ran it.
func (u *unfinished) Info() (Info, error) {
	var info Info
	dir := u.b.root.Dir(u.id)
	if rec, err := readCreateRecord(dir); err == nil {
		info.Created = rec.Created
	}
	if st, err := os.Stat(dir); err == nil {
		info.Owner = strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid))
		if u, err := user.LookupId(info.Owner); err == nil {
			info.Owner = u.Username
		}
	}
	return info, nil
}

func (u *unfinished) Exec(ExecOptions) (Process, error) { return nil, u.notCreated("exec") }
func (u *unfinished) Pause() error                      { return u.notCreated("pause") }
func (u *unfinished) Resume() error                     { return fmt.Errorf("resume %s: %w", u.id, ErrNotPaused) }
func (u *unfinished) Update(*specs.LinuxResources) error {
	return u.notCreated("update")
}
func (u *unfinished) Stats() (*Stats, error) { return nil, u.notCreated("events") }

func (u *unfinished) Wait() (int, error) {
	return -1, fmt.Errorf("wait %s: its create did not finish", u.id)
}

// idMapSummary describes a container's user namespace maps for state,
// e.g. "uid 0:1879048192:65536 gid 0:1879048192:65536".
func idMapSummary(uid, gid []configs.IDMap) string {
	var parts []string
	for _, m := range []struct {
		name string
		maps []configs.IDMap
	}{{"uid", uid}, {"gid", gid}} {
		for _, im := range m.maps {
			parts = append(parts, fmt.Sprintf("%s %d:%d:%d", m.name, im.ContainerID, im.HostID, im.Size))
		}
	}
	return strings.Join(parts, " ")
}
