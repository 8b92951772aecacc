package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/jail"
	"github.com/plugbox/plugbox/sandbox/store"
)

// jailBackend runs containers as FreeBSD jails, one state directory per
// container under root, making every system call through sys.
type jailBackend struct {
	root string
	sys  jail.Sys
	// exe is the binary re-executed as the init helper ("" means
	// os.Executable()).
	exe string
	// removeWait bounds how long teardown waits for a removed jail's
	// processes to exit.
	removeWait time.Duration
}

// newJailBackend returns the FreeBSD backend keeping its state under root
// (created 0700 when missing; refused when another user could tamper with
// it, see store.Open).
func newJailBackend(root string, sys jail.Sys) (*jailBackend, error) {
	r, err := store.Open(root)
	if err != nil {
		return nil, err
	}
	return &jailBackend{root: r.Path(), sys: sys, removeWait: 10 * time.Second}, nil
}

func (b *jailBackend) dir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return "", fmt.Errorf("container id %q: must be a single path component", id)
	}
	return filepath.Join(b.root, id), nil
}

// jailUnsupported wraps ErrUnsupported with a message naming what and the fix.
func jailUnsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// Monitor modes of the FreeBSD backend: the plugin is ktrace'd for
// capability violations. "violations" records what capability mode
// denies; "learning" (plugbox trace) runs it without cap_enter and
// records what capability mode would deny, with the paths looked up.
const (
	jailMonitorViolations = "violations"
	jailMonitorLearning   = "learning"
)

// checkJailOptions refuses what the FreeBSD backend cannot do, before any
// side effect, and decodes plugbox's FreeBSD annotations.
func checkJailOptions(opts CreateOptions) (bundle.FreeBSDOptions, error) {
	s := opts.Spec
	switch {
	case s == nil || s.Process == nil:
		return bundle.FreeBSDOptions{}, errors.New("config.json: process is missing; set process.args")
	case s.Root == nil || s.Root.Path == "":
		return bundle.FreeBSDOptions{}, errors.New("config.json: root.path is missing; point it at the rootfs directory")
	case opts.NoPivot:
		return bundle.FreeBSDOptions{}, jailUnsupported("--no-pivot is Linux-only (FreeBSD jails chroot by design); drop the flag")
	case opts.ConsoleSocket != "" || s.Process.Terminal:
		return bundle.FreeBSDOptions{}, jailUnsupported("process.terminal / --console-socket: the FreeBSD backend has no pty support yet; set process.terminal to false")
	case s.Hooks != nil && (len(s.Hooks.Prestart)+len(s.Hooks.CreateRuntime)+len(s.Hooks.CreateContainer)+len(s.Hooks.StartContainer)+len(s.Hooks.Poststart)+len(s.Hooks.Poststop)) > 0:
		return bundle.FreeBSDOptions{}, jailUnsupported("hooks: OCI hooks are not run by the FreeBSD backend yet; remove the hooks object")
	case opts.PreserveFDs < 0:
		return bundle.FreeBSDOptions{}, fmt.Errorf("--preserve-fds: %d is negative", opts.PreserveFDs)
	}
	ann, err := opts.plugboxAnnotations()
	if err != nil {
		return bundle.FreeBSDOptions{}, err
	}
	fo := ann.FreeBSD
	switch opts.Monitor {
	case "":
	case jailMonitorViolations, jailMonitorLearning:
		if !fo.Capsicum {
			return fo, fmt.Errorf("monitor %q: on FreeBSD the monitor records Capsicum violations; set annotations[%q] to \"true\", or remove annotations[%q]", opts.Monitor, bundle.AnnotationCapsicum, bundle.AnnotationMonitor)
		}
	default:
		return fo, fmt.Errorf("monitor %q: use %q or %q", opts.Monitor, jailMonitorViolations, jailMonitorLearning)
	}
	layers := jail.LinuxOnlyLayers(s)
	if ann.Landlock != nil {
		layers = append(layers, fmt.Sprintf("annotations[%q]", bundle.AnnotationLandlock))
	}
	if len(layers) > 0 && !fo.Capsicum {
		return fo, fmt.Errorf("config.json asks for %s, which FreeBSD does not have; set annotations[%q] to \"true\" to confine the plugin with Capsicum instead, or remove them", strings.Join(layers, ", "), bundle.AnnotationCapsicum)
	}
	return fo, nil
}

// jailPlan is a validated create: everything decided before the first
// side effect.
type jailPlan struct {
	fo      bundle.FreeBSDOptions
	rootfs  string
	name    string
	params  []jail.Param
	mounts  []jail.Mount
	skipped []string
	rules   []jail.RctlRule
	cfg     *jailInitConfig
	// facs are the ktrace facilities of the monitor (0: none).
	facs int
}

// plan validates opts and checks, with read-only calls, what the kernel
// would refuse later: root, the parent jail, the devfs rulesets and the
// preserved descriptors.
func (b *jailBackend) plan(opts CreateOptions) (*jailPlan, error) {
	fo, err := checkJailOptions(opts)
	if err != nil {
		return nil, err
	}
	spec := opts.Spec
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(opts.Bundle, rootfs)
	}
	// Resolved once, so that no mount target or jail path passes through
	// a symbolic link, and the paths statfs reports match the plan.
	resolved, err := filepath.EvalSymlinks(filepath.Clean(rootfs))
	if err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	p := &jailPlan{fo: fo, rootfs: resolved}
	p.params, err = jail.Params(opts.ID, p.rootfs, spec, jail.Options{ChildrenMax: fo.ChildrenMax, Securelevel: fo.Securelevel})
	if err != nil {
		return nil, wrapJailErr(err)
	}
	p.name = p.params[0].Str
	p.mounts, p.skipped, err = jail.PlanMounts(p.rootfs, opts.Bundle, spec)
	if err != nil {
		return nil, err
	}
	var fromResources []jail.RctlRule
	if spec.Linux != nil {
		if fromResources, err = jail.ResourceRules(spec.Linux.Resources); err != nil {
			return nil, wrapJailErr(err)
		}
	}
	fromAnnotation, err := jail.ParseRctlRules(fmt.Sprintf("annotations[%q]", bundle.AnnotationRctl), fo.Rctl)
	if err != nil {
		return nil, err
	}
	if p.rules, err = jail.MergeRctl(append(fromResources, fromAnnotation...)); err != nil {
		return nil, fmt.Errorf("linux.resources and annotations[%q] limit the same resource: %w", bundle.AnnotationRctl, err)
	}
	if p.cfg, err = buildJailInitConfig(spec, fo, opts); err != nil {
		return nil, err
	}
	switch opts.Monitor {
	case jailMonitorViolations:
		p.facs = jail.KtrfacCapfail | jail.KtrfacInherit
	case jailMonitorLearning:
		p.facs = jail.KtrfacCapfail | jail.KtrfacNamei | jail.KtrfacInherit
	}

	if b.sys.Geteuid() != 0 {
		return nil, errors.New("the FreeBSD backend must run as root (jail_set(2) needs PRIV_JAIL_SET); run plugbox with doas or sudo")
	}
	if parent := jail.Parent(spec); parent != "" {
		info, err := b.sys.JailGet(parent)
		if errors.Is(err, jail.ENOENT) {
			return nil, fmt.Errorf("freebsd.jail.parent: there is no jail %q; create it first (with children.max above 0)", parent)
		}
		if err != nil {
			return nil, fmt.Errorf("freebsd.jail.parent: %w", err)
		}
		if err := jail.CheckParent(parent, info, fo.ChildrenMax); err != nil {
			return nil, err
		}
	}
	for _, m := range p.mounts {
		if m.FSType == "devfs" {
			if err := jail.CheckDevfsRuleset(fmt.Sprintf("mounts[%d]", m.Index), m.Ruleset, b.sys.DevfsRules); err != nil {
				return nil, err
			}
		}
	}
	if j := spec.FreeBSD; j != nil && j.Jail != nil && j.Jail.Allow != nil && slices.Contains(j.Jail.Allow.Mount, "devfs") {
		if err := jail.CheckDevfsRuleset("freebsd.jail.allow.mount devfs (jail devfs_ruleset)", jail.DefaultDevfsRuleset, b.sys.DevfsRules); err != nil {
			return nil, err
		}
	}
	for i := 0; i < opts.PreserveFDs; i++ {
		if err := jailCheckPreservedFD(b.sys, 3+i); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: %w", opts.PreserveFDs, err)
		}
	}
	return p, nil
}

// jailCheckPreservedFD refuses a descriptor the caller did not pass: one that
// is not open, or is close-on-exec (plugbox's own, such as its state
// directory lock, which would land on the plugin's fd 3), a directory or
// an O_PATH descriptor (fchdir and ".." from either reach the host's
// tree: jail_attach does not refuse open directories).
func jailCheckPreservedFD(sys jail.Sys, fd int) error {
	flags, err := sys.FDFlags(fd)
	if err != nil {
		return fmt.Errorf("descriptor %d is not open in the calling process; pass it, or lower --preserve-fds", fd)
	}
	if flags&jail.FDCloexec != 0 {
		return fmt.Errorf("descriptor %d is not open in the calling process (it is plugbox's own); pass it, or lower --preserve-fds", fd)
	}
	status, err := sys.StatusFlags(fd)
	if err != nil {
		return fmt.Errorf("descriptor %d: %w", fd, err)
	}
	if status&jail.OPath != 0 {
		return fmt.Errorf("descriptor %d is an O_PATH descriptor, which would let the plugin open files outside its jail: pass files, pipes or sockets", fd)
	}
	fi, err := sys.FileInfo(fd)
	if err != nil {
		return fmt.Errorf("descriptor %d: %w", fd, err)
	}
	if fi.Type == jail.KFTypeVnode && fi.VnodeType == jail.KFVtypeVdir {
		return fmt.Errorf("descriptor %d is a directory, which would let the plugin reach the host's files (fchdir and ..): pass files, pipes or sockets, or bind the directory with a nullfs mount", fd)
	}
	return nil
}

// Create implements the runtime-spec "create" operation (runtime.md): it
// MUST create the container's resources (mounts, jail, limits, init
// helper waiting for start) without running process.args, and MUST fail,
// leaving nothing behind, if any of that fails.
func (b *jailBackend) Create(opts CreateOptions) (_ Container, retErr error) {
	dir, err := b.dir(opts.ID)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	p, err := b.plan(opts)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", opts.ID, ErrExist)
		}
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	unlock, err := lockJailDir(dir, unix.LOCK_EX)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create %s: %w", opts.ID, err)
	}
	defer unlock()
	st := &jailState{
		ID: opts.ID, Bundle: opts.Bundle, Rootfs: p.rootfs, JailName: p.name,
		Status: StatusCreating, Created: time.Now().UTC(), Skipped: p.skipped,
		Capsicum: p.fo.Capsicum, Monitor: opts.Monitor, Annotations: opts.Spec.Annotations,
	}
	var helper jail.Process
	// On failure undo everything in reverse: stop the helper, remove the
	// jail and its rules, unmount, and drop the state directory.
	defer func() {
		if retErr == nil {
			return
		}
		if helper != nil {
			helper.Kill()
			helper.Wait()
		}
		if err := b.teardown(st); err != nil {
			retErr = fmt.Errorf("%w; cleanup also failed, state kept in %s for plugbox delete: %v", retErr, dir, err)
			saveJailState(dir, st)
			return
		}
		os.RemoveAll(dir)
	}()
	fail := func(err error) (Container, error) { return nil, fmt.Errorf("create %s: %w", opts.ID, err) }
	if err := saveJailState(dir, st); err != nil {
		return nil, err
	}

	for i := range p.mounts {
		if err := p.mounts[i].Prepare(p.rootfs); err != nil {
			return fail(err)
		}
	}
	for _, m := range p.mounts {
		if err := b.mount(st, p.rootfs, m); err != nil {
			return fail(err)
		}
		if err := saveJailState(dir, st); err != nil {
			return nil, err
		}
	}

	st.JailPending = true
	if err := saveJailState(dir, st); err != nil {
		return nil, err
	}
	jid, err := b.sys.JailSet(p.params, jail.FlagCreate)
	st.JailPending = false // it returned: the jail is ours if and only if err is nil
	if err != nil {
		return fail(fmt.Errorf("jail %s: jail_set(JAIL_CREATE): %w", p.name, err))
	}
	st.JID = jid
	if err := saveJailState(dir, st); err != nil {
		return nil, err
	}
	// The jail has no process yet, so nothing runs unlimited.
	for _, r := range p.rules {
		if err := b.sys.RctlAddRule(r.For(p.name)); err != nil {
			if errors.Is(err, jail.ENOSYS) {
				return fail(fmt.Errorf("resource limits (linux.resources or annotations[%q]) need RACCT/RCTL, which is off on this host (kern.racct.enable=0): add kern.racct.enable=1 to /boot/loader.conf and reboot, or remove the limits", bundle.AnnotationRctl))
			}
			return fail(fmt.Errorf("rctl_add_rule %s: %w", r.For(p.name), err))
		}
		st.Rules = append(st.Rules, r.Filter(p.name))
		if err := saveJailState(dir, st); err != nil {
			return nil, err
		}
	}

	p.cfg.JID = jid
	p.cfg.Fifo = filepath.Join(dir, jailFifoFile)
	if err := unix.Mkfifo(p.cfg.Fifo, 0o600); err != nil {
		return fail(fmt.Errorf("mkfifo: %w", err))
	}
	helper, err = b.startHelper(opts, p.cfg)
	if err != nil {
		return fail(err)
	}
	if p.facs != 0 {
		trace := filepath.Join(dir, jailKtraceFile)
		f, err := os.OpenFile(trace, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fail(fmt.Errorf("monitor: %w", err))
		}
		f.Close()
		if err := b.sys.Ktrace(trace, jail.KtropSet, p.facs, helper.Pid()); err != nil {
			return fail(fmt.Errorf("monitor %q: ktrace: %w (is the KTRACE option in the kernel?)", opts.Monitor, err))
		}
	}
	st.Pid = helper.Pid()
	st.Status = StatusCreated
	if err := saveJailState(dir, st); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := atomicfile.Write(opts.PidFile, []byte(strconv.Itoa(st.Pid)), 0o644); err != nil {
			return fail(fmt.Errorf("--pid-file: %w", err))
		}
	}
	c := &jailContainer{b: b, id: opts.ID, dir: dir}
	if opts.Foreground {
		c.proc = helper
	} else {
		helper.Release()
	}
	return c, nil
}

// mount makes m, having checked its target again, and records it with the
// file system id statfs reports on the target. If statfs does not find
// the new file system on the target, the kernel followed a path that was
// changed after the check: that mount is not plugbox's to unmount blindly,
// so create fails and says so.
func (b *jailBackend) mount(st *jailState, rootfs string, m jail.Mount) error {
	field := fmt.Sprintf("mounts[%d] (%s on %s)", m.Index, m.FSType, m.Dest)
	if m.Index < 0 {
		field = "root.readonly (nullfs of the root onto itself)"
	}
	if err := jail.VerifyTarget(rootfs, m.Dest, m.File); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if err := b.sys.Nmount(m.NmountParams(), m.Flags.Bits()); err != nil {
		return fmt.Errorf("%s: nmount: %w", field, err)
	}
	fs, err := b.sys.Statfs(m.Target)
	if err != nil {
		return fmt.Errorf("%s: statfs after nmount: %w; check mount -p for a %s mount left behind", field, err, m.FSType)
	}
	if fs.MntOn != m.Target || fs.Type != m.FSType {
		return fmt.Errorf("%s: the new %s mount is not on %s (statfs finds %s on %s): a path component was replaced while plugbox mounted; find the stray mount with mount -p and unmount it", field, m.FSType, m.Target, fs.Type, fs.MntOn)
	}
	st.Mounts = append(st.Mounts, jailMount{Target: m.Target, FSID: fs.FSID, Type: m.FSType})
	return nil
}

// wrapJailErr turns jail.ErrUnsupported into ErrUnsupported for callers
// that test with errors.Is.
func wrapJailErr(err error) error {
	if errors.Is(err, jail.ErrUnsupported) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return err
}

// resolveJail finds the container's jail by name, never by the stored jid
// alone: it is the container's only if jail_get finds the name with the
// recorded jid (or, after a crash inside jail_set, none recorded) and the
// container's root as its path. other describes a jail that holds the
// name but is not the container's (after a reboot, or jid reuse).
func (b *jailBackend) resolveJail(st *jailState) (jid int, ours bool, other string, err error) {
	if st.JID == 0 && !st.JailPending {
		return 0, false, "", nil
	}
	info, err := b.sys.JailGet(st.JailName)
	if errors.Is(err, jail.ENOENT) {
		return 0, false, "", nil
	}
	if err != nil {
		return 0, false, "", fmt.Errorf("look up jail %s: %w", st.JailName, err)
	}
	if info.Path != st.Rootfs || (st.JID != 0 && info.JID != st.JID) {
		return 0, false, fmt.Sprintf("jail %s is now jid %d with path %s", st.JailName, info.JID, info.Path), nil
	}
	return info.JID, true, "", nil
}

// teardown releases what st records, in reverse order of creation: the
// jail (jail_remove kills its processes; plugbox waits for them), its
// rctl rules, then the mounts. It keeps in st whatever it could not
// release.
func (b *jailBackend) teardown(st *jailState) error {
	jid, ours, other, err := b.resolveJail(st)
	if err != nil {
		return err
	}
	if ours {
		if err := b.sys.JailRemove(jid); err != nil && !errors.Is(err, jail.EINVAL) {
			return fmt.Errorf("jail_remove %d: %w", jid, err)
		}
		// Mounts stay busy until the jail's processes have exited.
		deadline := time.Now().Add(b.removeWait)
		for {
			procs, err := b.sys.Processes()
			if err != nil {
				return fmt.Errorf("jail %s (jid %d): list its processes after jail_remove: %w", st.JailName, jid, err)
			}
			pids := jail.InJail(procs, jid)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("jail %s (jid %d): processes %v still running %s after jail_remove", st.JailName, jid, pids, b.removeWait)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st.JID, st.JailPending = 0, false
	var errs []error
	if other != "" {
		// Rules are keyed by jail name: while another jail holds the
		// name they apply to it, so they are left to its owner.
		st.Rules = nil
	}
	for i := len(st.Rules) - 1; i >= 0; i-- {
		err := b.sys.RctlRemoveRule(st.Rules[i])
		if err != nil && !errors.Is(err, jail.ESRCH) && !errors.Is(err, jail.ENOSYS) {
			errs = append(errs, fmt.Errorf("rctl_remove_rule %s: %w", st.Rules[i], err))
			continue
		}
		st.Rules = slices.Delete(st.Rules, i, i+1)
	}
	for i := len(st.Mounts) - 1; i >= 0; i-- {
		if err := b.unmount(st.Mounts[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		st.Mounts = slices.Delete(st.Mounts, i, i+1)
	}
	return errors.Join(errs...)
}

// unmount removes m if its target still shows m's file system: a target
// that is gone or shows another file system has nothing of the container's
// mounted (a reboot, or an earlier delete). It unmounts by file system id,
// forcing it when busy.
func (b *jailBackend) unmount(m jailMount) error {
	fs, err := b.sys.Statfs(m.Target)
	if errors.Is(err, jail.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmount %s: statfs: %w", m.Target, err)
	}
	if fs.FSID != m.FSID {
		return nil
	}
	err = b.sys.Unmount(m.FSID, 0)
	if errors.Is(err, jail.EBUSY) {
		err = b.sys.Unmount(m.FSID, jail.MntForce)
	}
	if err != nil && !errors.Is(err, jail.ENOENT) {
		return fmt.Errorf("unmount %s (%s): %w", m.Target, m.FSID, err)
	}
	return nil
}

// Load returns the container id, or ErrNotExist.
func (b *jailBackend) Load(id string) (Container, error) {
	dir, err := b.dir(id)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, jailStateFile)); err != nil {
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
		if _, err := os.Stat(filepath.Join(b.root, e.Name(), jailStateFile)); err == nil {
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
	// proc is the init process, when this process created it in the
	// foreground.
	proc jail.Process
}

func (c *jailContainer) ID() string { return c.id }

// lockedState takes the container's lock (how: unix.LOCK_SH or LOCK_EX) and
// reads its current state; the caller runs unlock when done.
func (c *jailContainer) lockedState(how int) (st *jailState, jid int, unlock func(), err error) {
	unlock, err = lockJailDir(c.dir, how)
	if err != nil {
		return nil, 0, nil, err
	}
	if st, jid, err = c.current(); err != nil {
		unlock()
		return nil, 0, nil, err
	}
	return st, jid, unlock, nil
}

// current loads the state and derives the live status: a created or
// running container whose jail is gone (or is not its own any more) or
// whose init process is gone (or is not in that jail) is stopped. jid is
// the container's live jail, or 0.
func (c *jailContainer) current() (*jailState, int, error) {
	st, err := loadJailState(c.dir, c.id)
	if err != nil {
		return nil, 0, err
	}
	jid, ours, _, err := c.b.resolveJail(st)
	if err != nil {
		return nil, 0, fmt.Errorf("container %s: %w", c.id, err)
	}
	if !ours {
		jid = 0
	}
	if st.Status == StatusCreated || st.Status == StatusRunning {
		alive := false
		if ours && st.Pid > 0 {
			procs, err := c.b.sys.Process(st.Pid)
			if err != nil {
				return nil, 0, fmt.Errorf("container %s: %w", c.id, err)
			}
			alive = len(jail.InJail(procs, jid)) > 0
		}
		if !alive {
			st.Status = StatusStopped
		}
	}
	return st, jid, nil
}

// State implements the runtime-spec "state" operation: it returns the
// container's state (ociVersion, id, status, pid, bundle, annotations).
func (c *jailContainer) State() (*specs.State, error) {
	st, _, unlock, err := c.lockedState(unix.LOCK_SH)
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
	st, _, unlock, err := c.lockedState(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status != StatusCreated {
		return fmt.Errorf("start %s: status is %s: %w", c.id, st.Status, ErrNotCreated)
	}
	fifo := filepath.Join(c.dir, jailFifoFile)
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
	return saveJailState(c.dir, st)
}

// Signal implements the runtime-spec "kill" operation: it MUST send sig to
// the container process (with all, to every process in the jail) and MUST
// fail on a container that is neither created nor running.
func (c *jailContainer) Signal(sig os.Signal, all bool) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("kill %s: signal %v is not a system signal", c.id, sig)
	}
	st, jid, unlock, err := c.lockedState(unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status != StatusCreated && st.Status != StatusRunning {
		return fmt.Errorf("kill %s: status is %s: %w", c.id, st.Status, ErrNotRunning)
	}
	pids := []int{st.Pid}
	if all && jid == 0 {
		return fmt.Errorf("kill %s: its jail is gone: %w", c.id, ErrNotRunning)
	}
	if all {
		procs, err := c.b.sys.Processes()
		if err != nil {
			return fmt.Errorf("kill %s: %w", c.id, err)
		}
		pids = jail.InJail(procs, jid)
	}
	for _, pid := range pids {
		if err := c.b.sys.Kill(pid, s); err != nil && !errors.Is(err, jail.ESRCH) {
			return fmt.Errorf("kill %s: pid %d: %w", c.id, pid, err)
		}
	}
	return nil
}

// Delete implements the runtime-spec "delete" operation: it MUST delete the
// resources created at create, and MUST fail without effect on a container
// that is not stopped unless force, which kills it first.
func (c *jailContainer) Delete(force bool) error {
	st, _, unlock, err := c.lockedState(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if (st.Status == StatusCreated || st.Status == StatusRunning) && !force {
		return fmt.Errorf("delete %s: status is %s; stop it with kill or use --force: %w", c.id, st.Status, ErrRunning)
	}
	if err := c.b.teardown(st); err != nil {
		saveJailState(c.dir, st)
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	return nil
}

// Processes returns the host PIDs of the live processes in the jail.
func (c *jailContainer) Processes() ([]int, error) {
	_, jid, unlock, err := c.lockedState(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if jid == 0 {
		return nil, nil
	}
	procs, err := c.b.sys.Processes()
	if err != nil {
		return nil, fmt.Errorf("ps %s: %w", c.id, err)
	}
	return jail.InJail(procs, jid), nil
}

// jailForwardedSignals are passed on to a foreground container's process: it
// runs in a session of its own (so it cannot reach the caller's terminal),
// where the terminal's SIGINT and friends do not arrive by themselves.
var jailForwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Wait waits for the container process and returns its exit code, or
// 128+N when signal N killed it, passing SIGINT, SIGTERM, SIGHUP and
// SIGQUIT on to it meanwhile.
func (c *jailContainer) Wait() (int, error) {
	if c.proc == nil {
		return -1, fmt.Errorf("wait %s: only the process that created a foreground container can wait for it", c.id)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, jailForwardedSignals...)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				c.b.sys.Kill(c.proc.Pid(), s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	st, err := c.proc.Wait()
	if err != nil {
		return -1, fmt.Errorf("wait %s: %w", c.id, err)
	}
	if st.Signal != 0 {
		return 128 + int(st.Signal), nil
	}
	return st.Code, nil
}
