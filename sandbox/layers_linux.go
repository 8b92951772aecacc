package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/seccompgen"
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
}

// layerPlan decides which protection layers the exec shim applies on top of
// what libcontainer applies.
type layerPlan struct {
	shim    *shimPlan // nil when libcontainer execs the plugin directly
	monitor monitor.Mode
	spawned *monitorSpawn // the running monitor, once started
	// foreground: this process waits for the plugin, so it can also serve
	// the monitor itself.
	foreground bool
	enforced   Layers
	// opened are this process's copies of what the shim got (its
	// executable, its configuration), closed once the process started.
	opened []*os.File
	// exec is what processes exec'd into the container get.
	exec *execLayers
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
	if opts.Monitor != "" {
		if p.monitor, err = monitor.ParseMode(opts.Monitor); err != nil {
			return nil, err
		}
		if seccompProfile == nil {
			return nil, errors.New("the seccomp monitor needs a linux.seccomp profile in config.json (plugbox bundle init writes one)")
		}
		seccompProfile = routeToListener(seccompProfile, p.monitor)
		p.enforced.Monitor = opts.Monitor
	}
	authored := ann.Authored != ""
	if policy == nil && p.monitor == "" && !authored {
		// A bundle a client sends (podman, containerd, the OCI suite) gets
		// runc's behaviour: libcontainer loads its seccomp profile, before
		// dropping capabilities when noNewPrivileges is unset.
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
		return nil, fmt.Errorf("config.json: process.noNewPrivileges is false, but plugbox's layers (%s) need it: set \"noNewPrivileges\": true, or remove those annotations to run the bundle as runc would", shimReasons(policy != nil, p.monitor != "", authored))
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
	if p.shim, err = planShim(root, spec, seccompProfile, policy, !authored); err != nil {
		return nil, err
	}
	p.exec = &execLayers{Seccomp: seccompProfile, Landlock: policy, Foreign: !authored, Monitor: p.monitor}
	if p.shim.monitor && p.monitor == "" {
		return nil, fmt.Errorf("config.json: linux.seccomp uses %s, which needs plugbox's monitor: set annotation %s", specs.ActNotify, bundle.AnnotationMonitor)
	}
	if seccompProfile != nil {
		p.enforced.Seccomp = "shim"
	}
	return p, nil
}

// shimReasons names the annotations that make a bundle need the exec shim.
func shimReasons(landlock, monitor, authored bool) string {
	var why []string
	if landlock {
		why = append(why, "annotation "+bundle.AnnotationLandlock)
	}
	if monitor {
		why = append(why, "annotation "+bundle.AnnotationMonitor)
	}
	if authored {
		why = append(why, "annotation "+bundle.AnnotationAuthored)
	}
	return strings.Join(why, ", ")
}

// routeToListener returns a copy of profile that sends calls to the seccomp
// listener. Learning: seccompgen.WithNotify routes only the calls a
// permission group could grant (the monitor lets them continue and records
// them); DeniedAlways and dangerous argument patterns stay denied.
// Enforcing ("violations"): the default action and every rule that answers
// EPERM notify instead, and the monitor answers EPERM and logs each one, so
// denials by argument (socket family, clone flags) are logged too. Calls
// answered with another errno (ENOSYS for clone3) or killed keep their
// action.
func routeToListener(profile *specs.LinuxSeccomp, mode monitor.Mode) *specs.LinuxSeccomp {
	if mode == monitor.Learning {
		return seccompgen.WithNotify(profile, "", true)
	}
	out := *profile
	isEPERM := func(action specs.LinuxSeccompAction, ret *uint) bool {
		return action == specs.ActErrno && (ret == nil || *ret == uint(unix.EPERM))
	}
	if isEPERM(out.DefaultAction, out.DefaultErrnoRet) {
		out.DefaultAction, out.DefaultErrnoRet = specs.ActNotify, nil
	}
	out.Syscalls = make([]specs.LinuxSyscall, len(profile.Syscalls))
	for i, rule := range profile.Syscalls {
		if isEPERM(rule.Action, rule.ErrnoRet) {
			rule.Action, rule.ErrnoRet = specs.ActNotify, nil
		}
		out.Syscalls[i] = rule
	}
	return &out
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
// rlimits too but for raising a hard limit (see splitRlimits): libcontainer
// applies a config's rlimits to every process it starts.
func (p *layerPlan) adjustConfig(config *configs.Config) {
	if p.shim != nil {
		config.Seccomp = nil
		_, config.Rlimits = splitRlimits(config.Rlimits)
	}
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
		m, err := startMonitor(p.monitor, root, id, p.foreground)
		if err != nil {
			return err
		}
		p.spawned = m
		monitorEnd = m.shimEnd
	}
	opened, err := p.shim.shimProcess(process, monitorEnd)
	if err != nil {
		p.abort()
		return err
	}
	p.opened = append(p.opened, opened...)
	return nil
}

// afterStart drops this process's copies of what the shim got: the
// started process holds its own.
func (p *layerPlan) afterStart() {
	for _, f := range p.opened {
		f.Close()
	}
	p.opened = nil
	if p.spawned != nil {
		p.spawned.shimEnd.Close()
	}
}

// abort stops a monitor started for a process that did not start.
func (p *layerPlan) abort() {
	p.afterStart()
	if p.spawned != nil {
		p.spawned.wait()
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
}

func (p *layerPlan) record() layerRecord {
	return layerRecord{Layers: p.enforced, Exec: p.exec}
}

// execPlan plans, from what create recorded, the layers of one process
// exec'd into the container: nil shim when libcontainer applies them.
func execPlan(root, id string, process *specs.Process) (*layerPlan, error) {
	var rec layerRecord
	if err := ReadLayerRecord(filepath.Join(root, id), &rec); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("exec %s: read plugbox's record of its layers: %w", id, err)
	}
	plan := &layerPlan{enforced: rec.Layers}
	if rec.Exec == nil {
		return plan, nil
	}
	plan.monitor = rec.Exec.Monitor
	plan.exec = rec.Exec
	var err error
	plan.shim, err = planShim(root, &specs.Spec{Process: process}, rec.Exec.Seccomp, rec.Exec.Landlock, rec.Exec.Foreign)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", id, err)
	}
	return plan, nil
}
