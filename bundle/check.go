package bundle

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/seccompgen"
)

// Severity ranks a Finding. The CLI's check verb exits 1 when any finding
// is High.
type Severity int

// Severities, lowest first; the zero value means "no finding".
const (
	// Low findings weaken defence in depth but open no path by themselves.
	Low Severity = iota + 1
	// Medium findings expose host resources or widen the kernel surface.
	Medium
	// High findings give the plugin a direct way to the host or its root.
	High
)

// String returns "LOW", "MEDIUM", "HIGH" (or "NONE" for the zero value).
func (s Severity) String() string {
	switch s {
	case Low:
		return "LOW"
	case Medium:
		return "MEDIUM"
	case High:
		return "HIGH"
	}
	return "NONE"
}

// Finding is one weakness Check found in a config.json.
type Finding struct {
	Severity Severity
	// Field is the config.json field at fault, e.g. "linux.namespaces".
	Field string
	// Problem says what the plugin could do because of it.
	Problem string
	// Fix says what to change.
	Fix string
}

// String renders f as one line: "HIGH linux.seccomp: problem (fix: ...)".
func (f Finding) String() string {
	return fmt.Sprintf("%s %s: %s (fix: %s)", f.Severity, f.Field, f.Problem, f.Fix)
}

// Worst returns the highest severity among findings, or 0 when none.
func Worst(findings []Finding) Severity {
	var w Severity
	for _, f := range findings {
		w = max(w, f.Severity)
	}
	return w
}

// deniedAlways is seccompgen's list of calls no plugbox profile grants
// (they debug other processes, reach BPF, perf, io_uring or the keyrings,
// change mounts or namespaces, load kernel code, or change the host). A
// profile that allows one of them without an argument filter is a High
// finding; learning mode never records them, so a learned profile with one
// was edited or steered.
var deniedAlways = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range seccompgen.DeniedAlways() {
		m[n] = true
	}
	return m
}()

// argumentOnly are calls plugbox grants only with an argument filter, named
// with what an unconditional allow opens.
var argumentOnly = map[string]string{
	"personality": "personality changes the execution domain (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE)",
	"clone":       "clone creates namespaces (CLONE_NEWUSER, CLONE_NEWNS, ...), widening the kernel surface",
}

// groupCalls is every syscall some seccompgen permission group grants.
var groupCalls = func() map[string]bool {
	m := map[string]bool{}
	for _, g := range seccompgen.Groups() {
		for _, n := range g.Syscalls {
			m[n] = true
		}
	}
	return m
}()

// runtimeSockets are host sockets that hand out control of containers or
// the machine to whoever can connect.
var runtimeSockets = []string{
	"docker.sock", "containerd.sock", "podman.sock", "crio.sock",
	"dockershim.sock", "buildkitd.sock", "libvirt-sock", "cri-dockerd.sock",
	"kubelet.sock", "systemd/private", "dbus/system_bus_socket",
}

// Check audits spec (the config.json of the bundle in bundleDir, which may
// be "" to skip the checks that read the rootfs) for ways an untrusted
// plugin could reach the host. Findings are sorted, worst first.
func Check(spec *specs.Spec, bundleDir string) []Finding {
	c := &checker{spec: spec}
	if spec == nil {
		c.add(High, "(config)", "there is no configuration to audit", "pass a config.json")
		return c.out
	}
	c.process()
	c.linux()
	c.mounts()
	c.annotations()
	c.binds(bundleDir)
	c.descriptors()
	c.hooks()
	if bundleDir != "" && spec.Root != nil && spec.Root.Path != "" {
		c.rootfsLink(RootfsPath(bundleDir, spec))
		c.rootfs(RootfsPath(bundleDir, spec))
	}
	sortFindings(c.out)
	return c.out
}

// CheckFile reads the config.json of the bundle in bundleDir, audits it
// with Check, and adds a Low finding for each property the runtime spec
// does not define: runtimes ignore those (as Load does), so a misspelled
// hardening option is not in force.
func CheckFile(bundleDir string) (*specs.Spec, []Finding, error) {
	path := filepath.Join(bundleDir, ConfigName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	spec, err := Decode(path, data)
	if err != nil {
		return nil, nil, err
	}
	findings := Check(spec, bundleDir)
	unknown, err := UnknownProperties(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range unknown {
		findings = append(findings, Finding{Severity: Low, Field: p,
			Problem: "not a property of the OCI runtime spec: runtimes ignore it, so if it is a misspelled option, that option is not in force",
			Fix:     "check its spelling against the runtime spec, or remove it"})
	}
	sortFindings(findings)
	return spec, findings, nil
}

// sortFindings orders findings worst first, then by field.
func sortFindings(out []Finding) {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return out[i].Field < out[j].Field
	})
}

type checker struct {
	spec *specs.Spec
	out  []Finding
}

func (c *checker) add(s Severity, field, problem, fix string) {
	c.out = append(c.out, Finding{Severity: s, Field: field, Problem: problem, Fix: fix})
}

func (c *checker) hasNS(t specs.LinuxNamespaceType) (present bool, path string) {
	if c.spec.Linux == nil {
		return false, ""
	}
	for _, ns := range c.spec.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path
		}
	}
	return false, ""
}

func (c *checker) ownUserNS() bool {
	ok, p := c.hasNS(specs.UserNamespace)
	return ok && p == ""
}

func (c *checker) process() {
	p := c.spec.Process
	if p == nil {
		c.add(High, "process", "there is no process section, so nothing about the plugin's privileges is stated", "author the bundle with 'plugbox bundle init'")
		return
	}
	if p.User.UID == 0 && !c.ownUserNS() {
		c.add(High, "process.user.uid", "the plugin runs as uid 0 without a user namespace: it is host root, limited only by the other layers", `add {"type": "user"} to linux.namespaces with uidMappings, or run as a non-zero uid`)
	}
	if !p.NoNewPrivileges {
		c.add(High, "process.noNewPrivileges", "no_new_privs is off: a setuid or file-capability binary visible to the plugin raises its privileges", `set "noNewPrivileges": true`)
	}
	c.capabilities(p.Capabilities)
	c.rlimits(p.Rlimits)
}

// highCaps are capabilities that by themselves lead to host root or to
// other containers' data.
var highCaps = map[string]bool{
	"CAP_SYS_ADMIN": true, "CAP_SYS_PTRACE": true, "CAP_SYS_MODULE": true,
	"CAP_SYS_RAWIO": true, "CAP_DAC_OVERRIDE": true, "CAP_DAC_READ_SEARCH": true,
	"CAP_NET_ADMIN": true, "CAP_SYS_BOOT": true, "CAP_SYS_TIME": true,
	"CAP_SETUID": true, "CAP_SETGID": true, "CAP_SETPCAP": true,
	"CAP_SETFCAP": true, "CAP_FOWNER": true, "CAP_CHOWN": true,
	"CAP_BPF": true, "CAP_PERFMON": true, "CAP_MAC_ADMIN": true,
	"CAP_MAC_OVERRIDE": true, "CAP_SYSLOG": true, "CAP_MKNOD": true,
	"CAP_LINUX_IMMUTABLE": true, "CAP_SYS_RESOURCE": true,
	"CAP_AUDIT_CONTROL": true, "CAP_CHECKPOINT_RESTORE": true,
	"CAP_NET_RAW": true, "CAP_SYS_CHROOT": true,
}

func (c *checker) capabilities(caps *specs.LinuxCapabilities) {
	if caps == nil {
		c.add(High, "process.capabilities", "no capabilities section: the runtime leaves the process every capability its user has (all of them for root)", `set all five sets to []`)
		return
	}
	held := map[string][]string{}
	for _, set := range []struct {
		name string
		caps []string
	}{
		{"bounding", caps.Bounding}, {"effective", caps.Effective},
		{"inheritable", caps.Inheritable}, {"permitted", caps.Permitted},
		{"ambient", caps.Ambient},
	} {
		for _, cp := range set.caps {
			cp = strings.ToUpper(cp)
			if !strings.HasPrefix(cp, "CAP_") {
				cp = "CAP_" + cp
			}
			held[cp] = append(held[cp], set.name)
		}
	}
	names := make([]string, 0, len(held))
	for cp := range held {
		names = append(names, cp)
	}
	sort.Strings(names)
	for _, cp := range names {
		sev := Medium
		if highCaps[cp] {
			sev = High
		}
		c.add(sev, "process.capabilities", fmt.Sprintf("%s is kept (%s)", cp, strings.Join(held[cp], ", ")),
			"remove it from every set; plugins need no capabilities")
	}
}

func (c *checker) rlimits(rl []specs.POSIXRlimit) {
	var nofile, core *specs.POSIXRlimit
	for i := range rl {
		switch rl[i].Type {
		case "RLIMIT_NOFILE":
			nofile = &rl[i]
		case "RLIMIT_CORE":
			core = &rl[i]
		}
	}
	if nofile == nil {
		c.add(Low, "process.rlimits", "no RLIMIT_NOFILE: the plugin inherits the runtime's descriptor limit", `add {"type": "RLIMIT_NOFILE", "hard": 256, "soft": 256}`)
	}
	if core == nil || core.Hard != 0 || core.Soft != 0 {
		c.add(Low, "process.rlimits", "RLIMIT_CORE is not 0: a crashing plugin may write core dumps holding its secrets", `add {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}`)
	}
}

func (c *checker) linux() {
	l := c.spec.Linux
	if l == nil {
		c.add(High, "linux", "no linux section: no namespaces, seccomp, cgroup limits or masked paths", "author the bundle with 'plugbox bundle init'")
		return
	}
	c.namespaces()
	c.idMappings(l)
	c.seccomp(l.Seccomp)
	c.resources(l.Resources)
	c.devices(l.Devices)
	if c.spec.Root != nil && !c.spec.Root.Readonly || c.spec.Root == nil {
		c.add(Medium, "root.readonly", "the root filesystem is writable: the plugin can change its own binaries and libraries", `set "root": {"readonly": true} and give it a tmpfs /tmp`)
	}
	c.masks(l)
}

func (c *checker) namespaces() {
	for _, n := range []struct {
		t           specs.LinuxNamespaceType
		sev         Severity
		consequence string
	}{
		{specs.UserNamespace, Medium, "ids inside are host ids and capabilities are host capabilities"},
		{specs.MountNamespace, High, "the plugin sees and can change the host's mounts"},
		{specs.PIDNamespace, High, "the plugin sees host processes and can signal those of its uid"},
		{specs.NetworkNamespace, Medium, "the plugin uses the host's network, including services bound to localhost"},
		{specs.IPCNamespace, Medium, "the plugin shares System V IPC and POSIX message queues with the host"},
		{specs.UTSNamespace, Low, "the plugin shares the host name"},
		{specs.CgroupNamespace, Low, "the plugin sees the host's cgroup paths"},
	} {
		ok, p := c.hasNS(n.t)
		switch {
		case !ok:
			c.add(n.sev, "linux.namespaces", fmt.Sprintf("no %s namespace: %s", n.t, n.consequence), fmt.Sprintf(`add {"type": %q}`, n.t))
		case p != "":
			c.add(n.sev, "linux.namespaces", fmt.Sprintf("the %s namespace joins %s, shared with whatever else lives there: %s", n.t, p, n.consequence), fmt.Sprintf(`drop "path" so the plugin gets a new %s namespace`, n.t))
		}
	}
}

func (c *checker) idMappings(l *specs.Linux) {
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", l.UIDMappings}, {"linux.gidMappings", l.GIDMappings}} {
		for _, im := range m.maps {
			if im.HostID == 0 && im.Size > 0 {
				c.add(High, m.field, fmt.Sprintf("container id %d maps to host id 0: files the host's root owns are the plugin's", im.ContainerID), `map a range of unused host ids (or set annotation "org.plugbox.idmap": "auto" for one per sandbox) or only the caller's id`)
			}
		}
	}
}

func (c *checker) seccomp(s *specs.LinuxSeccomp) {
	if s == nil {
		c.add(High, "linux.seccomp", "no seccomp filter: every system call, including ptrace, bpf, mount and keyctl, reaches the kernel", "generate a profile with 'plugbox spec' (seccompgen groups)")
		return
	}
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog:
		c.add(High, "linux.seccomp.defaultAction", fmt.Sprintf("the default action is %s: every call not listed is allowed", s.DefaultAction), `deny by default ("SCMP_ACT_ERRNO") and allow what the plugin needs`)
		return
	case specs.ActTrace, specs.ActNotify:
		c.add(Medium, "linux.seccomp.defaultAction", fmt.Sprintf("the default action is %s: the decision is left to a tracer or listener, and without one calls fail only by accident", s.DefaultAction), `deny by default ("SCMP_ACT_ERRNO")`)
	}
	var bad, unfiltered, beyond []string
	for _, sc := range s.Syscalls {
		if sc.Action != specs.ActAllow && sc.Action != specs.ActLog {
			continue
		}
		for _, n := range sc.Names {
			switch {
			case deniedAlways[n] && len(sc.Args) == 0:
				bad = append(bad, n)
			case argumentOnly[n] != "" && len(sc.Args) == 0:
				unfiltered = append(unfiltered, n)
			case !groupCalls[n] && !deniedAlways[n]:
				beyond = append(beyond, n)
			}
		}
	}
	if len(bad) > 0 {
		c.add(High, "linux.seccomp.syscalls", fmt.Sprintf("allowed, though plugbox never grants them (seccompgen.DeniedAlways): %s", strings.Join(sortedUnique(bad), ", ")), "remove them; they reach kernel code with a history of privilege escalation (io_uring, BPF, perf, keyrings), read other processes, or change namespaces and mounts")
	}
	for _, n := range sortedUnique(unfiltered) {
		c.add(High, "linux.seccomp.syscalls", fmt.Sprintf("%s is allowed without an argument filter: %s", n, argumentOnly[n]), "allow it only with the argument filter plugbox's groups use (plugbox seccomp groups -v)")
	}
	if len(beyond) > 0 && c.spec.Annotations[AnnotationAuthored] != "" {
		c.add(Low, "linux.seccomp.syscalls", fmt.Sprintf("allowed beyond plugbox's permission groups (extraSyscalls, or a learned profile, which records whatever the plugin was made to call): %s", strings.Join(sortedUnique(beyond), ", ")), "check that the plugin needs each one; remove the others from extraSyscalls or the learned profile")
	}
	for _, f := range s.Flags {
		if f == specs.LinuxSeccompFlagSpecAllow {
			c.add(Low, "linux.seccomp.flags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW keeps the speculative store bypass mitigation off for the plugin", `drop it unless the measured speed-up is worth the risk ("seccompSpecAllow" in plugin.json)`)
		}
	}
}

// sortedUnique returns s sorted without repeats.
func sortedUnique(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (c *checker) resources(r *specs.LinuxResources) {
	if r == nil || r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit <= 0 {
		c.add(Medium, "linux.resources.pids", "no pids limit: a fork bomb in the plugin exhausts the host's process table", `set "pids": {"limit": 64}`)
	}
	if r == nil || r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit <= 0 {
		c.add(Medium, "linux.resources.memory", "no memory limit: the plugin can drive the host into the OOM killer", `set "memory": {"limit": 268435456}`)
	}
	if r == nil || r.CPU == nil || (r.CPU.Quota == nil || *r.CPU.Quota <= 0) && (r.CPU.Shares == nil || *r.CPU.Shares == 0) {
		c.add(Low, "linux.resources.cpu", "no CPU quota or shares: a busy plugin competes with the host on equal terms", `set "cpu": {"quota": 100000, "period": 100000}`)
	}
	if r == nil {
		return
	}
	for i, d := range r.Devices {
		if !d.Allow {
			continue
		}
		all := (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil
		if all && strings.Contains(d.Access, "r") && strings.Contains(d.Access, "w") && strings.Contains(d.Access, "m") || all && d.Access == "" {
			c.add(High, fmt.Sprintf("linux.resources.devices[%d]", i), "every device is allowed (a rwm): the plugin can read and write host disks and memory through device nodes it creates", `remove the entry and start with {"allow": false, "access": "rwm"}`)
		}
	}
}

// devices flags device nodes created in the container beyond the defaults.
func (c *checker) devices(devs []specs.LinuxDevice) {
	for i, d := range devs {
		sev := Medium
		switch path.Clean(d.Path) {
		case "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kvm", "/dev/fuse", "/dev/cpu/0/msr":
			sev = High
		case "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty":
			continue
		}
		c.add(sev, fmt.Sprintf("linux.devices[%d]", i), fmt.Sprintf("device %s is created in the container", d.Path), "remove it unless the plugin cannot work without it")
	}
}

func (c *checker) masks(l *specs.Linux) {
	hasProc, hasSys := false, false
	for _, m := range c.spec.Mounts {
		switch path.Clean(m.Destination) {
		case "/proc":
			hasProc = true
		case "/sys":
			hasSys = true
		}
	}
	covered := func(list []string, p string) bool {
		for _, x := range list {
			x = path.Clean(x)
			if x == p || strings.HasPrefix(p, x+"/") {
				return true
			}
		}
		return false
	}
	var unmasked, writable []string
	if hasProc {
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
			if !covered(l.MaskedPaths, p) {
				unmasked = append(unmasked, p)
			}
		}
		for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"} {
			if !covered(l.ReadonlyPaths, p) && !covered(l.MaskedPaths, p) {
				writable = append(writable, p)
			}
		}
	}
	if hasSys && !covered(l.MaskedPaths, "/sys/firmware") {
		unmasked = append(unmasked, "/sys/firmware")
	}
	if len(unmasked) > 0 {
		c.add(Medium, "linux.maskedPaths", "not masked: "+strings.Join(unmasked, ", ")+" (host memory, keys and timers leak through them)", "add runc's default masked paths")
	}
	if len(writable) > 0 {
		c.add(Medium, "linux.readonlyPaths", "not read-only: "+strings.Join(writable, ", ")+" (kernel tunables and SysRq)", "add runc's default read-only paths")
	}
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func mountReadOnly(m specs.Mount) bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro", "rro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

func (c *checker) mounts() {
	for i, m := range c.spec.Mounts {
		field := fmt.Sprintf("mounts[%d] (%s)", i, m.Destination)
		dest := path.Clean(m.Destination)
		ro := mountReadOnly(m)
		if isBind(m) {
			src := path.Clean(m.Source)
			if sev, problem, fix := hostBindRisk(src, !ro); sev > 0 {
				c.add(sev, field, problem, fix)
			} else if sock := socketBelow(src, 100000); sock != "" {
				c.add(Medium, field, fmt.Sprintf("%s holds the unix socket %s: a bind, even a read-only one, lets the plugin connect() to the service behind it (Landlock does not restrict connecting to pathname sockets)", src, sock), "bind a directory without sockets, or pass a connected descriptor with \"fds\"")
			}
			continue
		}
		switch m.Type {
		case "sysfs":
			if !ro {
				c.add(High, field, "sysfs is mounted read-write: kernel and device tunables under /sys are writable", `add "ro" to its options`)
			}
		case "cgroup", "cgroup2":
			if !ro {
				c.add(Medium, field, "the cgroup filesystem is mounted read-write: the plugin may raise its own limits", `add "ro" to its options`)
			}
		case "proc":
			if dest != "/proc" {
				c.add(Medium, field, "a second proc mount escapes the masked and read-only paths set for /proc", "remove it")
			}
		}
	}
}

// hostBindRisk rates src by name, by the name it resolves to on this host
// (so a symlink cannot hide a runtime socket) and by its file type.
func hostBindRisk(src string, rw bool) (Severity, string, string) {
	sev, problem, fix := bindRisk(src, rw)
	if real, err := filepath.EvalSymlinks(src); err == nil && real != src {
		if s2, p2, f2 := bindRisk(real, rw); s2 > sev {
			sev, problem, fix = s2, fmt.Sprintf("%s resolves to %s: %s", src, real, p2), f2
		}
	}
	if sev < Medium {
		if fi, err := os.Stat(src); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			sev, problem, fix = Medium, fmt.Sprintf("%s is a unix socket on this host: the plugin can talk to the service behind it", src), "pass a connected descriptor with \"fds\" instead, or proxy only the calls the plugin needs"
		}
	}
	return sev, problem, fix
}

// bindRisk rates exposing host path src (clean, absolute) to a plugin,
// read-write when rw. Severity 0 means nothing to report.
func bindRisk(src string, rw bool) (Severity, string, string) {
	const fixDedicated = "bind a dedicated directory for the plugin's data instead"
	base := path.Base(src)
	for _, s := range runtimeSockets {
		if strings.HasSuffix(src, "/"+s) {
			return High, fmt.Sprintf("the host socket %s hands control of the host's containers or services to the plugin", src), "remove the bind"
		}
	}
	switch src {
	case "/":
		return High, "the host's whole filesystem is bound in", fixDedicated
	case "/run", "/var/run", "/run/containerd", "/run/docker", "/var/run/docker", "/run/podman", "/run/crio", "/run/systemd", "/run/dbus":
		return High, fmt.Sprintf("%s holds the sockets of the host's container runtimes and system services", src), "remove the bind"
	case "/proc", "/sys", "/proc/sys":
		if rw || src == "/proc" {
			return High, fmt.Sprintf("the host's %s is bound in: kernel state and host processes become reachable", src), "remove it; plugbox mounts a fresh /proc"
		}
		return Medium, fmt.Sprintf("the host's %s is visible read-only: it leaks host kernel state", src), "remove it"
	case "/dev":
		return High, "the host's /dev is bound in: every host device node is reachable", "remove it; the runtime creates a minimal /dev"
	case "/var/lib/docker", "/var/lib/containerd", "/var/lib/containers", "/var/lib/kubelet":
		return High, fmt.Sprintf("%s holds other containers' filesystems and secrets", src), "remove the bind"
	}
	if strings.HasPrefix(src, "/proc/") || strings.HasPrefix(src, "/sys/") {
		if rw {
			return High, fmt.Sprintf("the host's %s is bound read-write", src), "remove it"
		}
		return Medium, fmt.Sprintf("the host's %s is visible: it leaks host kernel state", src), "remove it"
	}
	if strings.HasPrefix(src, "/dev/") {
		switch src {
		case "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty":
			return 0, "", ""
		}
		return Medium, fmt.Sprintf("host device %s is bound in", src), "remove it unless the plugin cannot work without it"
	}
	if strings.HasSuffix(base, ".sock") || strings.HasSuffix(base, "-sock") {
		return Medium, fmt.Sprintf("%s looks like a host socket: the plugin can talk to the service behind it", src), "remove it, or proxy only the calls the plugin needs"
	}
	if rw {
		for _, sys := range []string{"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/root", "/var/lib", "/var/log", "/opt", "/srv", "/home"} {
			if src == sys {
				return High, fmt.Sprintf("the host's %s is writable by the plugin", src), fixDedicated
			}
			if strings.HasPrefix(src, sys+"/") && (sys == "/etc" || sys == "/usr" || sys == "/boot" || sys == "/bin" || sys == "/sbin" || strings.HasPrefix(sys, "/lib")) {
				return High, fmt.Sprintf("host system files under %s become writable by the plugin", sys), fixDedicated
			}
		}
	}
	return 0, "", ""
}

func (c *checker) annotations() {
	a := c.spec.Annotations
	pol, err := landlockOf(a)
	switch {
	case err != nil:
		c.add(Medium, "annotations["+AnnotationLandlock+"]", "the Landlock policy does not parse, so the start fails or runs without it: "+err.Error(), "regenerate it with 'plugbox spec'")
	case pol == nil:
		c.add(Low, "annotations["+AnnotationLandlock+"]", "no Landlock policy: filesystem writes are limited only by mounts and permissions", `add a policy (plugin.json "landlock": "required")`)
	default:
		for _, p := range pol.ReadWrite {
			if path.Clean(p) == "/" {
				c.add(Medium, "annotations["+AnnotationLandlock+"]", "the Landlock policy lets the plugin write below /, so it restricts nothing", "list only /tmp and the plugin's write paths in readWrite")
			}
		}
	}
}

// socketBelow returns the first unix socket found below directory dir
// (symlinks are not followed), looking at most at limit entries.
func socketBelow(dir string, limit int) string {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return ""
	}
	found, seen := "", 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > limit {
			return filepath.SkipAll
		}
		if d.Type()&fs.ModeSocket != 0 {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// binds reports a read or write path that changed since bundle init
// recorded it: create refuses such a bundle (VerifyBinds).
func (c *checker) binds(bundleDir string) {
	if err := VerifyBinds(bundleDir, c.spec); err != nil {
		c.add(High, "annotations["+AnnotationBinds+"]", err.Error(), "restore the path, or re-author the bundle with 'plugbox bundle init'")
	}
}

// descriptors warns about what passed descriptors can carry past the
// plugin's own network namespace.
func (c *checker) descriptors() {
	names := c.spec.Annotations[AnnotationFDNames]
	if names == "" {
		return
	}
	if own, p := c.hasNS(specs.NetworkNamespace); !own || p != "" {
		return
	}
	c.add(Low, "annotations["+AnnotationFDNames+"]", fmt.Sprintf("the plugin receives host descriptors (%s): a socket keeps the network namespace it was made in, so an AF_INET or AF_INET6 socket passed in lets a plugin in its own empty network namespace (network \"none\") reach the host's loopback services, and a UDP one send anywhere", names), "pass only AF_UNIX sockets, pipes and files, or proxy the connection on the host")
}

// rootfsLink flags a root filesystem path that is a symbolic link.
func (c *checker) rootfsLink(root string) {
	fi, err := os.Lstat(root)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return
	}
	target, err := filepath.EvalSymlinks(root)
	if err != nil {
		target = "a missing path"
	}
	c.add(High, "root.path", fmt.Sprintf("%s is a symbolic link to %s: whoever can change the link chooses the plugin's root filesystem, and tools that write into the bundle write through it onto the host", root, target), "make the rootfs a real directory inside the bundle (re-author it with 'plugbox bundle init')")
}

func (c *checker) hooks() {
	h := c.spec.Hooks
	if h == nil {
		return
	}
	n := len(h.Prestart) + len(h.CreateRuntime) + len(h.CreateContainer) + len(h.StartContainer) + len(h.Poststart) + len(h.Poststop)
	if n > 0 {
		c.add(Medium, "hooks", fmt.Sprintf("%d hook(s) run programs with the runtime's privileges, outside the sandbox", n), "remove hooks from bundles you did not write, or check each path and argument")
	}
}

// rootfs looks for setuid/setgid files and device nodes in the rootfs;
// no_new_privs makes setuid harmless, so that walk only runs without it.
func (c *checker) rootfs(root string) {
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		c.add(Medium, "root.path", fmt.Sprintf("root filesystem %s cannot be inspected: %v", root, err), "create the rootfs or fix root.path")
		return
	}
	nnp := c.spec.Process != nil && c.spec.Process.NoNewPrivileges
	var suid, devs []string
	seen := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > 200000 {
			return filepath.SkipAll
		}
		t := d.Type()
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if t&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
			devs = append(devs, rel)
			return nil
		}
		if !nnp && t.IsRegular() {
			if info, err := d.Info(); err == nil && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				suid = append(suid, rel)
			}
		}
		return nil
	})
	if len(devs) > 0 {
		c.add(Medium, "root.path", "device nodes in the rootfs: "+strings.Join(limitList(devs), ", "), "delete them; the runtime creates the devices a plugin needs")
	}
	if len(suid) > 0 {
		c.add(High, "root.path", "setuid/setgid files in the rootfs with no_new_privs off: "+strings.Join(limitList(suid), ", "), `set "noNewPrivileges": true and clear the setuid bits`)
	}
}

func limitList(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], fmt.Sprintf("and %d more", len(s)-5))
	}
	return s
}
