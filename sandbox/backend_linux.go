package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/nsutil"
	"github.com/plugbox/plugbox/sandbox/store"

	// The devices cgroup manager registers itself here; without it every
	// create fails with "cgroup manager is not configured to set device rules".
	_ "github.com/opencontainers/cgroups/devices"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/internal/shimplan"
	"github.com/plugbox/plugbox/internal/trace"
)

// linuxBackend runs containers with runc's libcontainer.
type linuxBackend struct {
	root *store.Root
}

// New returns the Linux backend keeping its state under root, creating the
// directory (0700) when needed and refusing one another user could tamper
// with (see store.Open).
func New(root string) (Backend, error) {
	r, err := store.Open(root)
	if err != nil {
		return nil, err
	}
	return &linuxBackend{root: r}, nil
}

// linuxContainer is a libcontainer container plus, in the process that
// created it, its init process.
type linuxContainer struct {
	backend *linuxBackend
	c       *libcontainer.Container
	process *libcontainer.Process // nil unless created by this process
	stop    func()                // releases what Create set up for this process
	monitor *monitor.Spawn        // the seccomp monitor started by this process
	trace   *os.File              // the exec shim's trace page (tracing only)
}

// Create takes the ID by making its state directory (the uniqueness guard)
// and holds that directory's lock until the container is created; creates
// of other IDs run alongside. Whatever fails undoes what was done.
func (b *linuxBackend) Create(opts CreateOptions) (_ Container, retErr error) {
	if err := checkTerminal(opts); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		// Otherwise the failure is a bare EPERM writing uid_map.
		if blocked, fix := nsutil.UnprivilegedUserNSBlocked(); blocked {
			return nil, fmt.Errorf("create %s: an unprivileged user needs a user namespace, and this host forbids it: %s", opts.ID, fix)
		}
	}
	if _, err := opts.plugboxAnnotations(); err != nil {
		return nil, err
	}
	lock, err := b.root.Create(opts.ID)
	if err != nil {
		if errors.Is(err, ErrExist) {
			return nil, fmt.Errorf("%w (delete it first or choose another ID)", err)
		}
		return nil, err
	}
	trace.Mark("create: state directory made and locked")
	dir := lock.Dir()
	var lc *linuxContainer
	defer func() {
		defer lock.Unlock()
		if retErr == nil {
			return
		}
		if lc != nil {
			// libcontainer made the cgroups and its state: remove them too.
			if err := lc.deleteLocked(lock, true); err != nil {
				retErr = fmt.Errorf("%w; cleaning up also failed, 'plugbox delete --force %s' retries: %v", retErr, opts.ID, err)
			}
			return
		}
		if err := removeUnfinished(lock); err != nil {
			retErr = fmt.Errorf("%w; cleaning up also failed, 'plugbox delete %s' retries: %v", retErr, opts.ID, err)
		}
	}()
	if err := allocateIDMap(opts, dir); err != nil {
		return nil, err
	}
	layers, err := planLayers(opts, b.root.Path())
	if err != nil {
		return nil, err
	}
	trace.Mark("create: layers planned (Landlock, BPF from cache)")
	config, err := libcontainerConfig(opts)
	if err != nil {
		return nil, err
	}
	layers.adjustConfig(config)
	view, err := planRootView(config)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	defer view.release()
	// Before libcontainer makes cgroups: a delete after a killed create
	// finds them from here.
	if err := writeCreateRecord(dir, &createRecord{Bundle: opts.Bundle, Created: time.Now().UTC(), Cgroups: config.Cgroups}); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	trace.Mark("create: config converted (specconv), create record written")
	wrapPrestartHooks(config)
	if err := writeLateHooks(dir, takeLateHooks(config, opts.Spec)); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	c, err := libcontainer.Create(dir, opts.ID, config)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	trace.Mark("create: libcontainer.Create (state dir, cgroup manager)")
	created := &linuxContainer{backend: b, c: c}
	if err := created.startInit(opts, layers, view); err != nil {
		_ = c.Destroy()
		return nil, fmt.Errorf("create %s: %w%s", opts.ID, err, cgroupHint(err, opts.Spec))
	}
	lc = created
	if err := view.finish(c, config); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	if st, err := c.State(); err == nil {
		if err := applyKernelTCP(opts.Spec, st.CgroupPaths); err != nil {
			return nil, fmt.Errorf("create %s: %w", opts.ID, err)
		}
		if err := orderDeviceRules(config, st.CgroupPaths["devices"]); err != nil {
			return nil, fmt.Errorf("create %s: %w", opts.ID, err)
		}
	}
	if err := writeLayerRecord(dir, layers.record()); err != nil {
		return nil, err
	}
	trace.Mark("create: layer record written")
	return lc, nil
}

// cgroupHint explains, for an unprivileged caller, why limits in
// linux.resources could not be applied. Limits that were asked for are never
// dropped silently, so the start fails; this says what to do about it.
func cgroupHint(err error, spec *specs.Spec) string {
	if os.Geteuid() == 0 || !strings.Contains(err.Error(), "could not join or create cgroup") {
		return ""
	}
	return fmt.Sprintf(" (uid %d has no cgroup delegated to it on this host, so the limits in linux.resources of config.json cannot be applied: run as root, delegate a cgroup v2 subtree to the user (systemd Delegate=yes), or remove linux.resources to run without limits)", os.Geteuid())
}

// libcontainerConfig converts the OCI spec the way runc does. specconv takes
// the bundle path from the working directory, so it runs from inside it.
func libcontainerConfig(opts CreateOptions) (*configs.Config, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(opts.Bundle); err != nil {
		return nil, fmt.Errorf("--bundle %s: %w", opts.Bundle, err)
	}
	defer func() { _ = os.Chdir(cwd) }()
	rootless := os.Geteuid() != 0
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      opts.ID,
		NoPivotRoot:     opts.NoPivot,
		Spec:            opts.Spec,
		RootlessEUID:    rootless,
		RootlessCgroups: opts.RootlessCgroups,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(opts.Bundle, "config.json"), err)
	}
	relaxForClients(config)
	return config, nil
}

// checkTerminal applies runc's rules on process.terminal and --console-socket.
func checkTerminal(opts CreateOptions) error {
	terminal := opts.Spec.Process.Terminal
	switch {
	case !opts.Foreground && terminal && opts.ConsoleSocket == "":
		return errors.New(`process.terminal is true but no --console-socket was given: pass --console-socket, or set "terminal": false in config.json`)
	case (opts.Foreground || !terminal) && opts.ConsoleSocket != "":
		return errors.New(`--console-socket needs "terminal": true in config.json and a detached container (create, or run --detach)`)
	}
	return nil
}

// startInit starts the container's init process, which stops before the
// user process runs (waiting on libcontainer's exec fifo).
func (lc *linuxContainer) startInit(opts CreateOptions, layers *layerPlan, view *rootView) error {
	p := opts.Spec.Process
	process, err := newProcess(p)
	if err != nil {
		return err
	}
	process.Init = true
	pluginBundle := opts.Annotations.Authored != ""
	for i := 0; i < opts.PreserveFDs; i++ {
		f, err := preservedFile(3+i, pluginBundle)
		if err != nil {
			return fmt.Errorf("--preserve-fds %d: %w", opts.PreserveFDs, err)
		}
		process.ExtraFiles = append(process.ExtraFiles, f)
	}
	if err := layers.adjustProcess(process, lc.backend.root.Path(), lc.ID()); err != nil {
		return err
	}
	cleanup, err := setupStdio(process, stdioOptions{
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		ConsoleSocket: opts.ConsoleSocket, Foreground: opts.Foreground,
	}, p.Terminal)
	if err != nil {
		layers.abort()
		return err
	}
	if err := layers.beforeStart(lc.dir()); err != nil {
		layers.abort()
		cleanup()
		return err
	}
	trace.Mark("create: process, stdio and shim descriptors ready")
	if err := view.start(func() error { return lc.c.Start(process) }); err != nil {
		layers.abort()
		cleanup()
		return err
	}
	trace.Mark("create: init waits on the exec fifo (libcontainer Start returned)")
	if err := layers.afterStart(lc.c, process); err != nil {
		layers.abort()
		_ = process.Signal(unix.SIGKILL)
		_, _ = process.Wait()
		cleanup()
		return err
	}
	if layers.shim != nil {
		lc.trace = layers.shim.Trace()
	}
	lc.monitor = layers.spawned
	if opts.PidFile != "" {
		pid, err := process.Pid()
		if err == nil {
			err = atomicfile.WriteVolatile(opts.PidFile, []byte(strconv.Itoa(pid)), 0o644)
		}
		if err != nil {
			_ = process.Signal(unix.SIGKILL)
			_, _ = process.Wait()
			cleanup()
			return fmt.Errorf("--pid-file %s: %w", opts.PidFile, err)
		}
	}
	lc.process = process
	lc.stop = cleanup
	return nil
}

// preservedFile checks that fd was inherited from the caller and wraps it.
// For a plugin bundle it also refuses directories and O_PATH descriptors:
// openat(2) relative to one reaches files outside the sandbox's mounts.
func preservedFile(fd int, pluginBundle bool) (*os.File, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return nil, fmt.Errorf("descriptor %d is not open in the calling process", fd)
	}
	// What plugbox (or the Go runtime) opened itself is close-on-exec; an
	// inherited descriptor cannot be. Never pass plugbox's own.
	if flags&unix.FD_CLOEXEC != 0 {
		return nil, fmt.Errorf("descriptor %d is not open in the calling process (it is plugbox's own)", fd)
	}
	if pluginBundle {
		status, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return nil, fmt.Errorf("descriptor %d: %w", fd, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, fmt.Errorf("descriptor %d: %w", fd, err)
		}
		if status&unix.O_PATH != 0 || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil, fmt.Errorf("descriptor %d is a directory or O_PATH descriptor, which would let the plugin open files outside its sandbox: pass files, pipes or sockets, or bind the directory with the manifest's read/write", fd)
		}
	}
	return os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)), nil
}

// newProcess converts the spec's process into libcontainer's form.
func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &p.NoNewPrivileges,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
		LogLevel:        initLogLevel(),
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if p.Capabilities != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    p.Capabilities.Bounding,
			Effective:   p.Capabilities.Effective,
			Inheritable: p.Capabilities.Inheritable,
			Permitted:   p.Capabilities.Permitted,
			Ambient:     p.Capabilities.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	var err error
	if lp.Rlimits, err = shimplan.RlimitsOf(p); err != nil {
		return nil, err
	}
	return lp, nil
}

// Load returns container id: a libcontainer container, or, when its create
// has not written state.json, an unfinished one that State describes and
// Delete removes.
func (b *linuxBackend) Load(id string) (Container, error) {
	if err := b.root.Check(id); err != nil {
		return nil, err
	}
	c, err := b.loadLibcontainer(id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return &unfinished{b: b, id: id}, nil
	}
	return &linuxContainer{backend: b, c: c}, nil
}

// List returns the IDs of every container under the root, unfinished ones
// included.
func (b *linuxBackend) List() ([]string, error) { return b.root.List() }

func (lc *linuxContainer) ID() string { return lc.c.ID() }

func (lc *linuxContainer) State() (*specs.State, error) {
	st, err := lc.c.OCIState()
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", lc.ID(), err)
	}
	if st.Bundle == "" {
		st.Bundle, _ = utils.SearchLabels(lc.c.Config().Labels, "bundle")
	}
	// What plugbox really enforces, beside the config's own annotations
	// (which cannot claim it: create refuses org.plugbox.enforced.* keys).
	for key := range st.Annotations {
		if strings.HasPrefix(key, bundle.EnforcedPrefix) {
			delete(st.Annotations, key)
		}
	}
	if st.Annotations == nil {
		st.Annotations = map[string]string{}
	}
	if cfg := lc.c.Config(); cfg.Namespaces.Contains(configs.NEWUSER) {
		st.Annotations[bundle.EnforcedPrefix+"idmap"] = idMapSummary(cfg.UIDMappings, cfg.GIDMappings)
	}
	var layers Layers
	if ReadLayerRecord(lc.dir(), &layers) == nil {
		for key, value := range map[string]string{
			"seccomp":         layers.Seccomp,
			"seccomp-default": layers.SeccompDefault,
			"seccomp-flags":   layers.SeccompFlags,
			"landlock":        layers.Landlock,
			"monitor":         layers.Monitor,
			"limits":          layers.Limits,
			"network":         layers.Network,
			"broker":          layers.Broker,
		} {
			if value != "" {
				st.Annotations[bundle.EnforcedPrefix+key] = value
			}
		}
		addMonitorState(lc.dir(), st.Status == specs.StateStopped, st.Annotations)
	}
	if st.Annotations == nil {
		st.Annotations = map[string]string{}
	}
	lc.addLimitState(st.Status == specs.StateStopped, st.Annotations)
	return st, nil
}

func (lc *linuxContainer) status() (libcontainer.Status, error) {
	s, err := lc.c.Status()
	if err != nil {
		return 0, fmt.Errorf("status of %s: %w", lc.ID(), err)
	}
	return s, nil
}

func (lc *linuxContainer) Start() error {
	lock, c, err := lc.backend.lockLoaded(lc.ID())
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if c == nil {
		return (&unfinished{b: lc.backend, id: lc.ID()}).Start()
	}
	lc.c = c
	s, err := lc.status()
	if err != nil {
		return err
	}
	if s != libcontainer.Created {
		return fmt.Errorf("start %s: it is %s: %w", lc.ID(), s, ErrNotCreated)
	}
	trace.Mark("start: container locked, state loaded")
	hooks, err := readLateHooks(lock.Dir())
	if err != nil {
		return fmt.Errorf("start %s: %w", lc.ID(), err)
	}
	var initExe string
	if hooks != nil && len(hooks.Poststart) > 0 {
		initExe = initExecutable(lc.c)
	}
	if err := lc.c.Exec(); err != nil {
		return fmt.Errorf("start %s: %w", lc.ID(), err)
	}
	trace.Mark("start: exec fifo read (init released)")
	return lc.runPoststart(hooks, initExe)
}

func (lc *linuxContainer) Signal(sig os.Signal, all bool) error {
	if all {
		// Every process in the cgroup, even when init is already a zombie
		// (a thread killed by seccomp) and the container looks stopped.
		n, err := lc.signalCgroup(sig.(syscall.Signal))
		if err != nil {
			return fmt.Errorf("kill --all %s: %w", lc.ID(), err)
		}
		if n > 0 {
			return nil
		}
	}
	s, err := lc.status()
	if err != nil {
		return err
	}
	if s == libcontainer.Stopped {
		return fmt.Errorf("kill %s: %w", lc.ID(), ErrNotRunning)
	}
	if err := lc.c.Signal(sig); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("kill %s: %w", lc.ID(), ErrNotRunning)
		}
		return fmt.Errorf("kill %s: %w", lc.ID(), err)
	}
	return nil
}

// Delete takes the container's lock and deletes what it holds; a container
// deleted meanwhile is ErrNotExist (which delete --force forgives).
func (lc *linuxContainer) Delete(force bool) error {
	lock, c, err := lc.backend.lockLoaded(lc.ID())
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if c == nil {
		// Deleted and created anew, and that create was interrupted.
		if err := removeUnfinished(lock); err != nil {
			return fmt.Errorf("delete %s: %w", lc.ID(), err)
		}
		return nil
	}
	lc.c = c
	return lc.deleteLocked(lock, force)
}

// deleteLocked deletes the container under its held lock: it kills it
// (force) or refuses a running one, destroys what libcontainer holds, frees
// its id range and removes the state directory.
func (lc *linuxContainer) deleteLocked(lock *store.Lock, force bool) error {
	s, err := lc.status()
	if err != nil {
		return err
	}
	if s == libcontainer.Running || s == libcontainer.Paused {
		if !force {
			return fmt.Errorf("delete %s: %w: stop it with 'plugbox kill %s KILL' or use delete --force", lc.ID(), ErrRunning, lc.ID())
		}
		if err := lc.c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("delete --force %s: %w", lc.ID(), err)
		}
		if err := lc.waitStopped(10 * time.Second); err != nil {
			return fmt.Errorf("delete --force %s: %w", lc.ID(), err)
		}
	}
	if force {
		// Stragglers (threads of a process whose main thread died) keep
		// the cgroup busy even when the container looks stopped.
		if n, _ := lc.signalCgroup(unix.SIGKILL); n > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	var cgroupPaths map[string]string
	if st, err := lc.c.State(); err == nil {
		cgroupPaths = st.CgroupPaths
	}
	monitor.StopAll(lock.Dir(), cgroupPaths)
	hooks, err := readLateHooks(lock.Dir())
	if err != nil {
		logrus.Warnf("delete %s: the poststop hooks will not run: %v", lc.ID(), err)
	}
	var lastState *specs.State
	if hooks != nil {
		lastState, _ = lc.c.OCIState()
	}
	// Destroy kills what remains (a created init waiting on its fifo, or
	// stragglers in the cgroup), removes the cgroup and libcontainer's
	// state directory.
	if err := lc.c.Destroy(); err != nil {
		return fmt.Errorf("delete %s: %w", lc.ID(), err)
	}
	trace.Mark("delete: libcontainer Destroy (cgroups, state dir)")
	runPoststop(lc.ID(), hooks, lastState)
	if lc.stop != nil {
		lc.stop()
		lc.stop = nil
	}
	if err := releaseIDMap(lock.Dir()); err != nil {
		return fmt.Errorf("delete %s: %w", lc.ID(), err)
	}
	if err := lock.RemoveAll(); err != nil {
		return fmt.Errorf("delete %s: %w", lc.ID(), err)
	}
	return nil
}

// signalCgroup sends sig to every process in the container's cgroup and
// returns how many there were.
func (lc *linuxContainer) signalCgroup(sig syscall.Signal) (int, error) {
	pids, err := lc.c.Processes()
	if err != nil {
		return 0, fmt.Errorf("no cgroup lists the container's processes (rootless without delegated cgroups?): %w", err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("pid %d: %w", pid, err)
		}
	}
	return len(pids), nil
}

// waitStopped polls until the init process is gone (a SIGKILL is not
// instantaneous) or the timeout passes.
func (lc *linuxContainer) waitStopped(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s, err := lc.status()
		if err != nil || s == libcontainer.Stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %s %s after SIGKILL", s, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (lc *linuxContainer) Processes() ([]int, error) {
	pids, err := lc.c.Processes()
	if err != nil {
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("ps %s: processes are listed from the container's cgroup, and uid %d has none delegated on this host: %w", lc.ID(), os.Geteuid(), err)
		}
		return nil, fmt.Errorf("ps %s: %w", lc.ID(), err)
	}
	return pids, nil
}

// Wait forwards the caller's termination signals to the init process and
// returns its exit status, 128+N when it died of signal N.
func (lc *linuxContainer) Wait() (int, error) {
	if lc.process == nil {
		return -1, fmt.Errorf("wait %s: the container was not created by this process", lc.ID())
	}
	stop := forwardSignals(lc.process)
	ps, err := lc.process.Wait()
	stop()
	trace.Mark("wait: plugin exited")
	if pid, perr := lc.process.Pid(); perr == nil {
		markShimTrace(lc.trace, pid)
	}
	if lc.stop != nil {
		lc.stop()
		lc.stop = nil
	}
	var merr error
	if lc.monitor != nil {
		merr = lc.monitor.Wait()
		trace.Mark("wait: monitor finished its log")
	}
	if ps == nil {
		return -1, fmt.Errorf("wait %s: %w", lc.ID(), err)
	}
	if merr != nil {
		return -1, fmt.Errorf("wait %s: %w", lc.ID(), merr)
	}
	status := waitStatus(ps.Sys().(syscall.WaitStatus))
	lc.recordLimitEnd(status)
	return status, nil
}

// forwardSignals relays the caller's termination signals to process until
// stop is called.
func forwardSignals(process *libcontainer.Process) (stop func()) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// waitStatus maps a wait status to a shell-style exit code.
func waitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// dir is the container's state directory (libcontainer's is dir()/ID).
func (lc *linuxContainer) dir() string { return lc.backend.root.Dir(lc.ID()) }
