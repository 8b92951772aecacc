package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/jail"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/sandbox/store"
)

// jailBackend runs containers as FreeBSD jails, one state directory per
// container under root.
type jailBackend struct {
	root string
}

// New returns the FreeBSD backend keeping its state under root (created
// 0700 when missing; refused when another user could tamper with it).
func New(root string) (Backend, error) {
	r, err := store.Open(root)
	if err != nil {
		return nil, err
	}
	return &jailBackend{root: r.Path()}, nil
}

func (b *jailBackend) dir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return "", fmt.Errorf("container id %q: must be a single path component", id)
	}
	return filepath.Join(b.root, id), nil
}

// unsupported wraps ErrUnsupported with a message naming what and the fix.
func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// checkOptions refuses what this backend cannot do, before any side effect.
func checkOptions(opts CreateOptions) (capsicum bool, err error) {
	s := opts.Spec
	switch {
	case s == nil || s.Process == nil:
		return false, errors.New("config.json: process is missing; set process.args")
	case s.Root == nil || s.Root.Path == "":
		return false, errors.New("config.json: root.path is missing; point it at the rootfs directory")
	case opts.NoPivot:
		return false, unsupported("--no-pivot is Linux-only (FreeBSD jails chroot by design); drop the flag")
	case opts.ConsoleSocket != "" || s.Process.Terminal:
		return false, unsupported("process.terminal / --console-socket: the FreeBSD backend has no pty support yet; set process.terminal to false")
	case s.Hooks != nil && (len(s.Hooks.Prestart)+len(s.Hooks.CreateRuntime)+len(s.Hooks.CreateContainer)+len(s.Hooks.StartContainer)+len(s.Hooks.Poststart)+len(s.Hooks.Poststop)) > 0:
		return false, unsupported("hooks: OCI hooks are not run by the FreeBSD backend yet; remove the hooks object")
	case opts.Monitor != "":
		return false, unsupported("monitor %q: the violation monitor uses Linux seccomp user notification; drop the monitor option (Capsicum denials return ECAPMODE/ENOTCAPABLE to the plugin)", opts.Monitor)
	case opts.PreserveFDs < 0:
		return false, fmt.Errorf("--preserve-fds: %d is negative", opts.PreserveFDs)
	}
	ann, err := opts.plugboxAnnotations()
	if err != nil {
		return false, err
	}
	capsicum = ann.Capsicum
	layers := jail.LinuxOnlyLayers(s)
	if ann.Landlock != nil {
		layers = append(layers, fmt.Sprintf("annotations[%q]", bundle.AnnotationLandlock))
	}
	if len(layers) > 0 && !capsicum {
		return false, fmt.Errorf("config.json asks for %s, which FreeBSD does not have; set annotations[%q] to \"true\" to confine the plugin with Capsicum instead, or remove them", strings.Join(layers, ", "), bundle.AnnotationCapsicum)
	}
	return capsicum, nil
}

// Create implements the runtime-spec "create" operation (runtime.md): it
// MUST create the container's resources (jail, mounts, init helper waiting
// for start) without running process.args, and MUST fail, leaving nothing
// behind, if any of that fails.
func (b *jailBackend) Create(opts CreateOptions) (_ Container, retErr error) {
	capsicum, err := checkOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	dir, err := b.dir(opts.ID)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	spec := opts.Spec
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(opts.Bundle, rootfs)
	}
	rootfs = filepath.Clean(rootfs)
	params, err := jail.Params(opts.ID, rootfs, spec)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, wrapJailErr(err))
	}
	plan, skipped, err := jail.PlanMounts(rootfs, opts.Bundle, spec)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	cfg, err := buildInitConfig(spec, capsicum, opts.PreserveFDs)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("create %s: the FreeBSD backend must run as root (jail_set(2) needs PRIV_JAIL_SET); run plugbox with doas or sudo", opts.ID)
	}

	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", opts.ID, ErrExist)
		}
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	unlock, err := lockDir(dir, unix.LOCK_EX)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	defer unlock()
	st := &jailState{
		ID: opts.ID, Bundle: opts.Bundle, Rootfs: rootfs, JailName: params[0].Str,
		Status: StatusCreating, Created: time.Now().UTC(), Skipped: skipped,
		Capsicum: capsicum, Annotations: spec.Annotations,
	}
	// On failure undo everything in reverse: stop the helper, remove the
	// jail, unmount, and drop the state directory.
	defer func() {
		if retErr == nil {
			return
		}
		if err := teardown(st); err != nil {
			retErr = fmt.Errorf("%w; cleanup also failed, state kept in %s for plugbox delete: %v", retErr, dir, err)
			saveState(dir, st)
			return
		}
		os.RemoveAll(dir)
	}()
	if err := saveState(dir, st); err != nil {
		return nil, err
	}

	for i := range plan {
		if err := plan[i].Prepare(rootfs); err != nil {
			return nil, fmt.Errorf("create %s: %w", opts.ID, err)
		}
	}
	for _, m := range plan {
		if err := m.Do(); err != nil {
			return nil, fmt.Errorf("create %s: mounts[%d] (%s on %s): %w", opts.ID, m.Index, m.FSType, m.Dest, err)
		}
		st.Mounts = append(st.Mounts, m.Target)
		if err := saveState(dir, st); err != nil {
			return nil, err
		}
	}

	jid, err := jail.Create(params)
	if err != nil {
		return nil, fmt.Errorf("create %s: jail %s: %w", opts.ID, st.JailName, err)
	}
	st.JID = jid
	if err := saveState(dir, st); err != nil {
		return nil, err
	}

	cfg.JID = jid
	cfg.Fifo = filepath.Join(dir, fifoFile)
	if err := unix.Mkfifo(cfg.Fifo, 0o600); err != nil {
		return nil, fmt.Errorf("create %s: mkfifo: %w", opts.ID, err)
	}
	cmd, err := startInit(opts, cfg)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	st.Pid = cmd.Process.Pid
	st.Status = StatusCreated
	if err := saveState(dir, st); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	if opts.PidFile != "" {
		if err := atomicfile.Write(opts.PidFile, []byte(strconv.Itoa(st.Pid)), 0o644); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("create %s: --pid-file: %w", opts.ID, err)
		}
	}
	c := &jailContainer{b: b, id: opts.ID, dir: dir}
	if opts.Foreground {
		c.cmd = cmd
	} else {
		cmd.Process.Release()
	}
	return c, nil
}

// wrapJailErr turns jail.ErrUnsupported into ErrUnsupported for callers
// that test with errors.Is.
func wrapJailErr(err error) error {
	if errors.Is(err, jail.ErrUnsupported) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return err
}

func buildInitConfig(spec *specs.Spec, capsicum bool, preserve int) (*initConfig, error) {
	p := spec.Process
	rl, err := jail.Rlimits(p.Rlimits)
	if err != nil {
		return nil, err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("process.cwd: %q must be absolute", cwd)
	}
	cfg := &initConfig{
		Args: p.Args, Env: p.Env, Cwd: cwd,
		UID: int(p.User.UID), GID: int(p.User.GID),
		Umask: 0o022, Rlimits: rl, Capsicum: capsicum, PreserveFDs: preserve,
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process.args: empty; set the program to run")
	}
	if p.User.Umask != nil {
		cfg.Umask = int(*p.User.Umask)
	}
	for _, g := range p.User.AdditionalGids {
		cfg.Groups = append(cfg.Groups, int(g))
	}
	return cfg, nil
}

// startInit re-executes this binary as the init helper and waits until it
// reports that it is in the jail, running as process.user and waiting on
// exec.fifo (or why it could not get there).
func startInit(opts CreateOptions, cfg *initConfig) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find plugbox binary: %w", err)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return nil, err
	}
	defer syncR.Close()

	cmd := exec.Command(exe, FreeBSDInitArg)
	cmd.Env = []string{fmt.Sprintf("%s=%d", initFDEnv, 3+opts.PreserveFDs)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	for i := 0; i < opts.PreserveFDs; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfgR, syncW)
	if !opts.Foreground {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	err = cmd.Start()
	cfgR.Close()
	syncW.Close()
	if err != nil {
		return nil, fmt.Errorf("start init helper: %w", err)
	}
	fail := func(err error) (*exec.Cmd, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	if err := json.NewEncoder(cfgW).Encode(cfg); err != nil {
		return fail(fmt.Errorf("send config to init helper: %w", err))
	}
	cfgW.Close()
	data, err := io.ReadAll(syncR)
	if err != nil {
		return fail(fmt.Errorf("read init helper reply: %w", err))
	}
	var rep initReply
	if len(data) == 0 {
		return fail(errors.New("init helper exited before joining the jail (is the lead's main calling sandbox.FreeBSDInitMain for \"jail-init\"?)"))
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return fail(fmt.Errorf("init helper reply %q: %w", data, err))
	}
	if rep.Error != "" {
		return fail(errors.New(rep.Error))
	}
	return cmd, nil
}

// teardown releases what st records, in reverse order of creation: the
// jail (jail_remove kills its processes), then the mounts. It keeps in st
// whatever it could not release.
func teardown(st *jailState) error {
	if st.JID > 0 {
		if err := jail.Remove(st.JID); err != nil {
			return err
		}
		// Mounts stay busy until the jail's processes have exited.
		deadline := time.Now().Add(10 * time.Second)
		for {
			pids, err := jail.Processes(st.JID)
			if err != nil || len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("jail %d: processes %v still running 10s after jail_remove", st.JID, pids)
			}
			time.Sleep(20 * time.Millisecond)
		}
		st.JID = 0
	}
	var errs []error
	for i := len(st.Mounts) - 1; i >= 0; i-- {
		if err := jail.Unmount(st.Mounts[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		st.Mounts = append(st.Mounts[:i], st.Mounts[i+1:]...)
	}
	return errors.Join(errs...)
}

// Load returns the container id, or ErrNotExist.
func (b *jailBackend) Load(id string) (Container, error) {
	dir, err := b.dir(id)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	return &jailContainer{b: b, id: id, dir: dir}, nil
}

// List returns the ids of every container under the root, sorted.
func (b *jailBackend) List() ([]string, error) {
	ents, err := os.ReadDir(b.root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", b.root, err)
	}
	var ids []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(b.root, e.Name(), stateFile)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// jailContainer is one container of the FreeBSD backend.
type jailContainer struct {
	b   *jailBackend
	id  string
	dir string
	cmd *exec.Cmd // the init process, when this process created it in the foreground
}

func (c *jailContainer) ID() string { return c.id }

// lockedState takes the container's lock (how: unix.LOCK_SH or LOCK_EX) and
// reads its current state; the caller runs unlock when done.
func (c *jailContainer) lockedState(how int) (st *jailState, unlock func(), err error) {
	unlock, err = lockDir(c.dir, how)
	if err != nil {
		return nil, nil, err
	}
	if st, err = c.current(); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// current loads the state and derives the live status: a created or
// running container whose init process is gone (or no longer in the jail)
// is stopped.
func (c *jailContainer) current() (*jailState, error) {
	st, err := loadState(c.dir, c.id)
	if err != nil {
		return nil, err
	}
	if st.Status == StatusCreated || st.Status == StatusRunning {
		alive, err := jail.Alive(st.Pid, st.JID)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.id, err)
		}
		if !alive {
			st.Status = StatusStopped
		}
	}
	return st, nil
}

// State implements the runtime-spec "state" operation: it returns the
// container's state (ociVersion, id, status, pid, bundle, annotations).
func (c *jailContainer) State() (*specs.State, error) {
	st, unlock, err := c.lockedState(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := &specs.State{Version: specs.Version, ID: st.ID, Status: st.Status, Bundle: st.Bundle, Annotations: st.Annotations}
	if st.Status == StatusCreated || st.Status == StatusRunning {
		s.Pid = st.Pid
	}
	return s, nil
}

// Start implements the runtime-spec "start" operation: it MUST run
// process.args and MUST fail on a container that is not "created".
func (c *jailContainer) Start() error {
	st, unlock, err := c.lockedState(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status != StatusCreated {
		return fmt.Errorf("start %s: status is %s: %w", c.id, st.Status, ErrNotCreated)
	}
	fifo := filepath.Join(c.dir, fifoFile)
	// O_NONBLOCK: fail with ENXIO at once if the helper is not reading.
	f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("start %s: init helper is not waiting on %s: %w", c.id, fifo, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", c.id, err)
	}
	os.Remove(fifo)
	st.Status = StatusRunning
	return saveState(c.dir, st)
}

// Signal implements the runtime-spec "kill" operation: it MUST send sig to
// the container process (with all, to every process in the jail) and MUST
// fail on a container that is neither created nor running.
func (c *jailContainer) Signal(sig os.Signal, all bool) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("kill %s: signal %v is not a system signal", c.id, sig)
	}
	st, unlock, err := c.lockedState(unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status != StatusCreated && st.Status != StatusRunning {
		return fmt.Errorf("kill %s: status is %s: %w", c.id, st.Status, ErrNotRunning)
	}
	pids := []int{st.Pid}
	if all {
		if pids, err = jail.Processes(st.JID); err != nil {
			return fmt.Errorf("kill %s: %w", c.id, err)
		}
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, s); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %s: pid %d: %w", c.id, pid, err)
		}
	}
	return nil
}

// Delete implements the runtime-spec "delete" operation: it MUST delete the
// resources created at create, and MUST fail without effect on a container
// that is not stopped unless force, which kills it first.
func (c *jailContainer) Delete(force bool) error {
	st, unlock, err := c.lockedState(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if (st.Status == StatusCreated || st.Status == StatusRunning) && !force {
		return fmt.Errorf("delete %s: status is %s; stop it with kill or use --force: %w", c.id, st.Status, ErrRunning)
	}
	if err := teardown(st); err != nil {
		saveState(c.dir, st)
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	return nil
}

// Processes returns the host PIDs of the live processes in the jail.
func (c *jailContainer) Processes() ([]int, error) {
	unlock, err := lockDir(c.dir, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(c.dir, c.id)
	if err != nil {
		return nil, err
	}
	if st.JID == 0 {
		return nil, nil
	}
	pids, err := jail.Processes(st.JID)
	if err != nil {
		return nil, fmt.Errorf("ps %s: %w", c.id, err)
	}
	return pids, nil
}

// Wait waits for the container process and returns its exit code, or
// 128+N when signal N killed it.
func (c *jailContainer) Wait() (int, error) {
	if c.cmd == nil {
		return -1, fmt.Errorf("wait %s: only the process that created a foreground container can wait for it", c.id)
	}
	err := c.cmd.Wait()
	ps := c.cmd.ProcessState
	if ps == nil {
		return -1, fmt.Errorf("wait %s: %w", c.id, err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}
