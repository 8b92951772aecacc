package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/seccompgen"

	"github.com/plugbox/plugbox/internal/shimplan"
)

// Layers records what was really enforced for a container; plugbox keeps it
// in the state directory so a user can check what protects a plugin.
type Layers struct {
	// Seccomp is "none", "libcontainer" (runc's loader, before the start
	// handshake) or "shim" (plugbox's exec shim, right before execve).
	Seccomp string `json:"seccomp"`
	// SeccompDefault is the profile's defaultAction.
	SeccompDefault string `json:"seccompDefaultAction,omitempty"`
	// SeccompFlags are the filter flags, e.g. SECCOMP_FILTER_FLAG_SPEC_ALLOW
	// (the Spectre store-bypass mitigation left off: a recorded choice).
	SeccompFlags string `json:"seccompFlags,omitempty"`
	// Limits summarises the cgroup limits in force, e.g. "memory=256M pids=64".
	Limits string `json:"limits,omitempty"`
	// Landlock is "abi N" when a Landlock ruleset is applied, "" otherwise.
	Landlock string `json:"landlock,omitempty"`
	// Monitor is the seccomp listener's mode ("violations", "learning") or "".
	Monitor string `json:"monitor,omitempty"`
	// Network is "shared" when the plugin joined plugbox's empty network
	// namespace of socket-less plugins (netns_linux.go), "" otherwise.
	Network string `json:"network,omitempty"`
	// Broker counts the broker rules its monitor serves, "open N, connect M".
	Broker string `json:"broker,omitempty"`
}

// layerPlan decides which protection layers the exec shim applies on top of
// what libcontainer applies.
type layerPlan struct {
	shim  *shimplan.Plan // nil when libcontainer execs the plugin directly
	netns string         // the shared network namespace to join, or ""

	monitor monitor.Mode
	// policy is how the monitor answers (its mode is monitor).
	policy  monitor.Policy
	spawned *monitor.Spawn // the running monitor, once started
	// foreground: this process waits for the plugin; the monitor process
	// kills the plugin if this process dies.
	foreground bool
	// timeout is the wall-clock limit the monitor process enforces (0: none).
	timeout  time.Duration
	enforced Layers
	// opened are this process's copies of what the shim got (its
	// executable, its configuration), closed once the process started.
	opened []*os.File
	// exec is what processes exec'd into the container get.
	exec *execLayers
	// execd: the plan is for a process exec'd into a running container.
	execd bool
	// broker is the monitor's broker configuration (nil: no broker rules);
	// explicitBroker gives the process the explicit protocol's socket.
	broker         *monitor.BrokerConfig
	explicitBroker bool
	// containerCaps are the container's capabilities, which libcontainer
	// gives an exec'd process without process.capabilities.
	containerCaps *configs.Capabilities
}

// planLayers validates the plugbox layers a bundle asks for and plans them;
// root is the state root, which holds the compiled seccomp programs. A
// layer asked for that this host cannot apply fails the create (fail
// closed), naming the field.
func planLayers(opts CreateOptions, root string) (*layerPlan, error) {
	spec := opts.Spec
	p := &layerPlan{enforced: Layers{Seccomp: "none", Limits: limitsOf(spec)}, foreground: opts.Foreground}
	var seccompProfile *specs.LinuxSeccomp
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		seccompProfile = spec.Linux.Seccomp
		p.enforced.Seccomp = "libcontainer"
		p.enforced.SeccompDefault = string(seccompProfile.DefaultAction)
		var flags []string
		for _, f := range seccompProfile.Flags {
			flags = append(flags, string(f))
		}
		p.enforced.SeccompFlags = strings.Join(flags, ",")
	}
	if err := bundle.VerifyBinds(opts.Bundle, spec); err != nil {
		return nil, err
	}
	ann, err := opts.plugboxAnnotations()
	if err != nil {
		return nil, err
	}
	policy := ann.Landlock
	p.timeout = ann.Timeout
	if opts.Monitor != "" {
		if p.monitor, err = monitor.ParseMode(opts.Monitor); err != nil {
			return nil, err
		}
		if seccompProfile == nil {
			return nil, errors.New("the seccomp monitor needs a linux.seccomp profile in config.json (plugbox bundle init writes one)")
		}
		if seccompProfile, p.policy, err = routeToListener(seccompProfile, p.monitor, opts.LearnAllow); err != nil {
			return nil, err
		}
		p.enforced.Monitor = opts.Monitor
	}
	unrouted := seccompProfile
	if seccompProfile, p.broker, p.enforced.Broker, err = planBroker(root, ann.Broker, seccompProfile); err != nil {
		return nil, err
	}
	if p.broker != nil {
		p.explicitBroker = true
		if p.monitor == "" {
			// The monitor serves the broker alone: only the broker's
			// calls reach the listener, and what the broker leaves to
			// the monitor gets the profile's answer.
			p.monitor = monitor.Violations
			p.policy = monitor.Policy{Mode: monitor.Violations, Profile: unrouted}
		}
	}
	authored := ann.Authored != ""
	if policy == nil && p.monitor == "" && !authored {
		if err := p.planForClient(opts, root, seccompProfile); err != nil {
			return nil, err
		}
		return p, nil
	}
	// plugbox's own layers go through the exec shim, which loads even a
	// plain seccomp profile right before the plugin's execve: libcontainer's
	// loader runs before it reopens its exec fifo for writing, so a profile
	// without open-for-write would stop it.
	if !hasProcMount(spec) {
		return nil, errors.New("config.json: plugbox's exec shim (Landlock, seccomp monitor, authored plugin) needs /proc mounted in the container: add a proc mount at /proc")
	}
	// The shim runs with the process's final capabilities; without
	// no_new_privs the kernel refuses its filter and Landlock ruleset.
	if !spec.Process.NoNewPrivileges {
		return nil, fmt.Errorf("config.json: process.noNewPrivileges is false, but plugbox's layers (%s) need it: set \"noNewPrivileges\": true, or remove those annotations to run the bundle as runc would", shimReasons(policy != nil, opts.Monitor != "", p.broker != nil, authored))
	}
	if policy != nil {
		abi, err := llsys.LandlockGetABIVersion()
		switch {
		case (err != nil || abi < 1) && !policy.BestEffort:
			return nil, fmt.Errorf("config.json: annotation %s asks for Landlock but this kernel has none (Linux 5.13+ with landlock in lsm=); set \"bestEffort\": true to run without it", bundle.AnnotationLandlock)
		case err == nil && abi >= 1:
			p.enforced.Landlock = "abi " + strconv.Itoa(abi)
		}
	}
	if err := checkExecutable(opts.Bundle, spec); err != nil {
		return nil, err
	}
	// plugbox's own profiles name only calls its table knows; a foreign
	// one gets runc's tolerance of names libseccomp lacks.
	if p.shim, err = shimplan.New(root, spec, seccompProfile, policy, !authored); err != nil {
		return nil, err
	}
	p.exec = &execLayers{Seccomp: seccompProfile, Landlock: policy, Foreign: !authored, Monitor: p.monitor, Broker: p.broker}
	if p.monitor != "" {
		p.exec.MonitorPolicy = &p.policy
	}
	if p.shim.Monitor() && p.monitor == "" {
		return nil, fmt.Errorf("config.json: linux.seccomp uses %s, which needs plugbox's monitor: set annotation %s", specs.ActNotify, bundle.AnnotationMonitor)
	}
	if seccompProfile != nil {
		p.enforced.Seccomp = "shim"
	}
	if authored {
		p.planSharedNetns(opts)
	}
	return p, nil
}

// planForClient plans a bundle a client sends (podman, containerd, the OCI
// suite): runc's behaviour, but with its seccomp profile loaded by the exec
// shim right before the execve rather than by libcontainer. libcontainer
// v1.5.2 goes on after its loader: it closes descriptors through
// /proc/thread-self/fd, checks its working directory, reopens its exec fifo
// and closes descriptors again, with statx(2), openat2(2), close_range(2)
// and getcwd(2). A profile that denies those (the OCI suite's default one
// has no statx: "error closing exec fds: ... statx(STATX_MNT_ID_...):
// function not implemented") stopped every start, where runc 1.1 (which
// made none of those calls) ran it. The shim calls only capset(2) and
// execve(2) under the filter, so the profile filters the program alone.
// Without noNewPrivileges the kernel loads a filter only for a holder of
// CAP_SYS_ADMIN: libcontainer leaves it to the shim, which drops it once the
// filter is on (shimplan.Plan.Process). Where the shim cannot do this
// (no /proc to exec it from, a profile that notifies or denies capset,
// a user other than root without capabilities) or must not (startContainer
// hooks, which libcontainer's init runs after it has set the capabilities,
// would get CAP_SYS_ADMIN) libcontainer loads the profile as runc would. A program that is not in the root filesystem
// fails the create, as under runc, unless a hook may still put it there.
func (p *layerPlan) planForClient(opts CreateOptions, root string, profile *specs.LinuxSeccomp) error {
	spec := opts.Spec
	if profile == nil || !hasProcMount(spec) {
		return nil
	}
	if err := checkExecutable(opts.Bundle, spec); err != nil {
		if spec.Hooks != nil {
			return nil // libcontainer looks after the hooks have run
		}
		return err
	}
	sp, err := shimplan.New(root, spec, profile, nil, true)
	if err != nil || sp.Monitor() {
		return nil
	}
	if !spec.Process.NoNewPrivileges {
		if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
			// libcontainer's init runs them inside the container, from its
			// filesystem, and would hand them CAP_SYS_ADMIN.
			return nil
		}
		var caps *configs.Capabilities
		if c := spec.Process.Capabilities; c != nil {
			caps = &configs.Capabilities{Bounding: c.Bounding, Effective: c.Effective, Permitted: c.Permitted, Inheritable: c.Inheritable, Ambient: c.Ambient}
		}
		if sp.CheckWithoutNoNewPrivs(caps, int(spec.Process.User.UID)) != nil {
			return nil
		}
	}
	p.shim = sp
	p.exec = &execLayers{Seccomp: profile, Foreign: true, Client: true}
	p.enforced.Seccomp = "shim"
	return nil
}

// shimReasons names the annotations that make a bundle need the exec shim.
func shimReasons(landlock, monitor, broker, authored bool) string {
	var why []string
	if landlock {
		why = append(why, "annotation "+bundle.AnnotationLandlock)
	}
	if monitor {
		why = append(why, "annotation "+bundle.AnnotationMonitor)
	}
	if broker {
		why = append(why, "annotation "+bundle.AnnotationBroker)
	}
	if authored {
		why = append(why, "annotation "+bundle.AnnotationAuthored)
	}
	return strings.Join(why, ", ")
}

// answers is how the monitor answers, nil without one.
func (p *layerPlan) answers() *monitor.Policy {
	if p.monitor == "" {
		return nil
	}
	a := p.policy
	return &a
}

// routeToListener returns the profile the shim loads for monitor mode
// mode, and how the monitor answers it. Learning: seccompgen's learning
// filter, whatever the bundle's profile, so every call the plugin makes
// is recorded (allow names the never-granted calls the monitor lets run
// anyway). Enforcing ("violations", "audit"): seccompgen.Route, and the
// monitor answers each routed call what the bundle's profile decides: its
// errno, or, for audit, "continue". Kills, traps, SCMP_ACT_LOG outside
// audit and ENOSYS answers stay with the kernel.
func routeToListener(profile *specs.LinuxSeccomp, mode monitor.Mode, allow []string) (*specs.LinuxSeccomp, monitor.Policy, error) {
	if mode == monitor.Learning {
		learning, err := seccompgen.LearningProfile("")
		if err != nil {
			return nil, monitor.Policy{}, err
		}
		return learning, monitor.Policy{Mode: mode, Allow: allow}, nil
	}
	return seccompgen.Route(profile, mode == monitor.Audit), monitor.Policy{Mode: mode, Profile: profile}, nil
}

// limitsOf summarises the cgroup limits of spec; libcontainer applies them
// or fails the create, so a running container has them in force.
func limitsOf(spec *specs.Spec) string {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return ""
	}
	r := spec.Linux.Resources
	var parts []string
	if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit > 0 {
		parts = append(parts, fmt.Sprintf("memory=%dM", *r.Memory.Limit>>20))
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		parts = append(parts, fmt.Sprintf("pids=%d", *r.Pids.Limit))
	}
	if r.CPU != nil && r.CPU.Quota != nil && r.CPU.Period != nil && *r.CPU.Quota > 0 && *r.CPU.Period > 0 {
		parts = append(parts, fmt.Sprintf("cpus=%.2f", float64(*r.CPU.Quota)/float64(*r.CPU.Period)))
	}
	return strings.Join(parts, " ")
}

func hasProcMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Destination == "/proc" && m.Type == "proc" {
			return true
		}
	}
	return false
}

// checkExecutable reports at create time, as libcontainer does for its own
// exec, a process.args[0] that is not in the root filesystem. Paths under a
// mount destination are left to the shim, which sees the mounts.
func checkExecutable(bundleDir string, spec *specs.Spec) error {
	arg0 := spec.Process.Args[0]
	rootfs := bundle.RootfsPath(bundleDir, spec)
	var candidates []string
	if filepath.IsAbs(arg0) || containsSlash(arg0) {
		candidates = []string{filepath.Join(spec.Process.Cwd, arg0)}
		if filepath.IsAbs(arg0) {
			candidates = []string{arg0}
		}
	} else {
		for _, dir := range filepath.SplitList(lookupVar(spec.Process.Env, "PATH")) {
			candidates = append(candidates, filepath.Join(dir, arg0))
		}
	}
	for _, c := range candidates {
		if underMount(spec, c) {
			return nil
		}
		// SecureJoin follows symlinks as the container would, never
		// leaving the rootfs.
		inRoot, err := securejoin.SecureJoin(rootfs, c)
		if err != nil {
			continue
		}
		if st, err := os.Stat(inRoot); err == nil && !st.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("config.json: process.args[0] %q is not an executable in the root filesystem %s (searched %v)", arg0, rootfs, candidates)
}

func containsSlash(s string) bool { return strings.Contains(s, "/") }

func underMount(spec *specs.Spec, path string) bool {
	for _, m := range spec.Mounts {
		if m.Destination != "/" && (path == m.Destination || strings.HasPrefix(path, m.Destination+"/")) {
			return true
		}
	}
	return false
}

// adjustConfig leaves seccomp to the shim when the shim runs, and the
// rlimits too but for raising a hard limit (see shimplan.SplitRlimits): libcontainer
// applies a config's rlimits to every process it starts.
func (p *layerPlan) adjustConfig(config *configs.Config) {
	if p.shim != nil {
		config.Seccomp = nil
		_, config.Rlimits = shimplan.SplitRlimits(config.Rlimits)
	}
	p.adjustNetns(config)
}

// adjustProcess turns process, which would exec the plugin (the
// container's init, or a process exec'd into the container), into one that
// execs the shim with the plan's layers, starting a monitor for its
// seccomp listener when the plan has one. Call it after the preserved
// descriptors are in process.ExtraFiles, then afterStart (or abort). A
// plan adjusts one process: plan again for the next (each gets its own
// listener and monitor).
func (p *layerPlan) adjustProcess(process *libcontainer.Process, root, id string) error {
	if p.shim == nil {
		return nil
	}
	var monitorEnd *os.File
	if p.monitor != "" {
		m, err := monitor.NewListenerSpawn()
		if err != nil {
			return err
		}
		if p.broker != nil && p.explicitBroker {
			plugin, own, err := brokerSocket(process)
			if err != nil {
				m.Close()
				return err
			}
			p.opened = append(p.opened, plugin)
			m.BrokerEnd = own
		}
		p.spawned = m
		monitorEnd = m.ShimEnd
	}
	opened, err := p.shim.Process(process, monitorEnd, p.containerCaps)
	if err != nil {
		p.abort()
		return err
	}
	p.opened = append(p.opened, opened...)
	return nil
}

// beforeStart starts the monitor process, if the process needs one: before
// libcontainer starts the process, so that the two starts overlap.
func (p *layerPlan) beforeStart(dir string) error {
	return p.startMonitorProcess(dir)
}

// afterStart drops this process's copies of what the shim got (the started
// process holds its own) and hands the monitor process the process and its
// cgroups, which exist now.
func (p *layerPlan) afterStart(c *libcontainer.Container, process *libcontainer.Process) error {
	p.release()
	return p.attachMonitor(c, process)
}

// release closes this process's copies of what the shim got.
func (p *layerPlan) release() {
	for _, f := range p.opened {
		f.Close()
	}
	p.opened = nil
	if p.spawned != nil {
		p.spawned.ReleaseShimEnd()
	}
}

// abort releases what was set up for a process that did not start, and
// stops its monitor process.
func (p *layerPlan) abort() {
	p.release()
	if p.spawned != nil {
		p.spawned.Close()
	}
}

// layerRecord is what create stores in the state directory: what is
// enforced, and what an exec'd process needs to get the plugin's layers.
type layerRecord struct {
	Layers
	// Exec is nil when libcontainer alone applies the container's layers
	// (it stores them in its own state, and applies them to exec too).
	Exec *execLayers `json:"exec,omitempty"`
}

// execLayers are the shim's inputs that create decided, kept so that every
// process exec'd into the container gets the same ones, whatever the
// bundle's config.json says by then.
type execLayers struct {
	// Seccomp is the profile as the shim loads it (routed to the monitor).
	Seccomp  *specs.LinuxSeccomp    `json:"seccomp,omitempty"`
	Landlock *bundle.LandlockPolicy `json:"landlock,omitempty"`
	Foreign  bool                   `json:"foreign,omitempty"`
	Monitor  monitor.Mode           `json:"monitor,omitempty"`
	// MonitorPolicy is how the monitor answers (nil in records written
	// before it existed: the monitor then fails every routed call, EPERM).
	MonitorPolicy *monitor.Policy `json:"monitorPolicy,omitempty"`
	// Broker is the broker's configuration: an exec'd process's calls
	// are brokered as the init's are (it gets no explicit socket).
	Broker *monitor.BrokerConfig `json:"broker,omitempty"`
	// Client: a bundle a client sent, where the shim only loads the
	// profile; an exec'd process keeps its own capabilities and
	// no_new_privs, as with runc.
	Client bool `json:"client,omitempty"`
}

func (p *layerPlan) record() layerRecord {
	return layerRecord{Layers: p.enforced, Exec: p.exec}
}

// execPlan plans, from what create recorded, the layers of one process
// exec'd into the container: nil shim when libcontainer applies them.
// containerCaps are the container's capabilities.
func execPlan(root, id string, process *specs.Process, containerCaps *configs.Capabilities) (*layerPlan, error) {
	var rec layerRecord
	if err := ReadLayerRecord(filepath.Join(root, id), &rec); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("exec %s: read plugbox's record of its layers: %w", id, err)
	}
	plan := &layerPlan{enforced: rec.Layers, execd: true, containerCaps: containerCaps}
	if rec.Exec == nil {
		return plan, nil
	}
	plan.monitor = rec.Exec.Monitor
	plan.exec = rec.Exec
	if rec.Exec.MonitorPolicy != nil {
		plan.policy = *rec.Exec.MonitorPolicy
	} else if plan.monitor != "" {
		plan.policy = monitor.Policy{Mode: monitor.Violations, Profile: rec.Exec.Seccomp}
	}
	plan.broker = rec.Exec.Broker
	var err error
	plan.shim, err = shimplan.New(root, &specs.Spec{Process: process}, rec.Exec.Seccomp, rec.Exec.Landlock, rec.Exec.Foreign)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", id, err)
	}
	return plan, nil
}

// lookupVar is the value of variable name in env, or "".
func lookupVar(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
