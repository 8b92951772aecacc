package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/shim"
	"github.com/plugbox/plugbox/nsutil"
)

// Paths the Linux probes read; tests point them at files of their own.
var (
	procDir = "/proc"
	sysDir  = "/sys"
	etcDir  = "/etc"
)

// Run probes this host for every layer plugbox applies.
func Run(opts Options) Report {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	who := "running as root"
	if os.Geteuid() != 0 {
		who = fmt.Sprintf("running as uid %d (rootless)", os.Geteuid())
	}
	r := Report{Host: fmt.Sprintf("Linux %s, %s", unix.ByteSliceToString(uts.Release[:]), who)}
	r.Checks = append(r.Checks, checkUserNS(opts)...)
	r.Checks = append(r.Checks,
		checkSeccomp(),
		checkUserNotif(opts),
		checkLibseccomp(),
		checkLandlock(opts),
		checkShim(),
	)
	r.Checks = append(r.Checks, checkCgroups()...)
	r.Checks = append(r.Checks,
		checkSubIDs(),
		checkOverlay(),
		checkSpecStoreBypass(),
		checkStateRoot(opts.StateRoot),
	)
	return r
}

func readTrim(path string) (string, error) {
	data, err := os.ReadFile(path)
	return strings.TrimSpace(string(data)), err
}

// canCreateUserNS starts a process in a new user namespace and reports the
// error of the clone.
func canCreateUserNS() error {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command(exe, "--version")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Start(); err != nil {
		return err
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil
}

// checkUserNS: every sandbox has its own user namespace; root maps it to
// an unprivileged host range, a rootless user to itself.
func checkUserNS(opts Options) []Check {
	root := Check{Name: "user namespaces"}
	limit, _ := readTrim(filepath.Join(procDir, "sys/user/max_user_namespaces"))
	fixOff := "run 'sysctl user.max_user_namespaces=15000' as root (and build the kernel with CONFIG_USER_NS=y)"
	err := errors.New("simulated: no user namespaces")
	if !opts.simulates(SimulateNoUserNS) {
		err = canCreateUserNS()
	}
	if os.Geteuid() == 0 {
		if err != nil {
			root.Status, root.Found, root.Fix = Missing, fmt.Sprintf("root cannot create one (%v; user.max_user_namespaces = %s): every sandbox needs its own", err, limit), fixOff
		} else {
			root.Status = OK
			root.Found = fmt.Sprintf("each sandbox gets its own, container ids 0-%d mapped to a host id range of its own (see /etc/subuid)", nsutil.SandboxIDs-1)
		}
	}
	unpriv := Check{Name: "rootless user namespaces"}
	// Root cannot try as another user without a helper program; the
	// sysctls say it (create refuses with the same fix).
	uerr := err
	if os.Geteuid() == 0 && !opts.simulates(SimulateNoUserNS) {
		uerr = nil
		if limit == "0" {
			uerr = errors.New("user.max_user_namespaces is 0")
		}
	}
	blocked, fix := nsutil.UnprivilegedUserNSBlocked()
	switch {
	case uerr == nil && !blocked:
		unpriv.Status, unpriv.Found = OK, "unprivileged users may create them: rootless plugbox maps the caller to root of the sandbox"
	case os.Geteuid() == 0:
		// Root's sandboxes are fine; only rootless use is affected.
		unpriv.Status, unpriv.Found = Warn, fmt.Sprintf("unprivileged users cannot create them (%v): rootless plugbox will not start", firstErr(uerr, "blocked by a sysctl"))
		unpriv.Fix = firstFix(fix, fixOff)
	default:
		unpriv.Status, unpriv.Found = Missing, fmt.Sprintf("you cannot create one (%v): every sandbox needs its own", firstErr(uerr, "blocked by a sysctl"))
		unpriv.Fix = firstFix(fix, fixOff)
	}
	if os.Geteuid() == 0 {
		return []Check{root, unpriv}
	}
	return []Check{unpriv}
}

func firstErr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

func firstFix(fixes ...string) string {
	for _, f := range fixes {
		if f != "" {
			return f
		}
	}
	return ""
}

// seccompActions returns the actions the kernel's seccomp offers.
func seccompActions() (map[string]bool, error) {
	raw, err := readTrim(filepath.Join(procDir, "sys/kernel/seccomp/actions_avail"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range strings.Fields(raw) {
		out[a] = true
	}
	return out, nil
}

func checkSeccomp() Check {
	c := Check{Name: "seccomp"}
	actions, err := seccompActions()
	switch {
	case err != nil:
		c.Status, c.Found = Missing, "no seccomp filters in this kernel (no "+filepath.Join(procDir, "sys/kernel/seccomp/actions_avail")+")"
		c.Fix = "build the kernel with CONFIG_SECCOMP_FILTER=y"
	case !actions["errno"] || !actions["kill_process"]:
		c.Status, c.Found, c.Fix = Missing, "the kernel lacks the errno or kill_process action", "upgrade to Linux 4.14 or later"
	default:
		c.Status = OK
		c.Found = "filters available: plugbox loads a default-deny allowlist, compiled once on the host, right before the plugin's execve"
	}
	return c
}

// checkUserNotif: the monitor receives each denied call through seccomp
// user notification and takes the listener from the shim with
// pidfd_getfd (Linux 5.6).
func checkUserNotif(opts Options) Check {
	c := Check{Name: "seccomp monitor"}
	fix := "upgrade to Linux 5.6 or later; until then set \"onViolation\": \"kill\" in manifests (no monitor: a denied call kills the plugin and is not logged)"
	actions, _ := seccompActions()
	if opts.simulates(SimulateNoUserNotif) {
		actions = nil
	}
	if !actions["user_notif"] {
		c.Status, c.Found, c.Fix = Missing, "no seccomp user notification: denied calls cannot be logged", fix
		return c
	}
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err == nil {
		var fd int
		fd, err = unix.PidfdGetfd(pidfd, 0, 0)
		if err == nil {
			unix.Close(fd)
		}
		unix.Close(pidfd)
	}
	if err != nil {
		c.Status, c.Found, c.Fix = Missing, fmt.Sprintf("user notification is there but pidfd_getfd is not (%v): the monitor cannot take the listener", err), fix
		return c
	}
	c.Status = OK
	c.Found = "user notification and pidfd_getfd: every denied call is answered EPERM and logged with its arguments (plugbox violations ID)"
	return c
}

func checkLibseccomp() Check {
	major, minor, micro := libseccomp.GetLibraryVersion()
	api, err := libseccomp.GetAPI()
	c := Check{Name: "libseccomp", Status: OK}
	c.Found = fmt.Sprintf("%d.%d.%d linked in, API level %d: profiles compile to binary-tree BPF", major, minor, micro, api)
	if err != nil {
		c.Found = fmt.Sprintf("%d.%d.%d linked in, API level unknown (%v)", major, minor, micro, err)
	}
	if major < 2 || major == 2 && minor < 5 {
		c.Status, c.Fix = Missing, "rebuild plugbox against libseccomp 2.5 or later (Debian: apt-get install libseccomp-dev; make build): SCMP_ACT_NOTIFY needs it"
	}
	return c
}

// landlockNotes says what each Landlock ABI adds to plugbox's policy.
func landlockNotes(abi int) string {
	s := "writes limited to the manifest's write paths, /tmp and the standard devices"
	if abi >= 2 {
		s += "; no renames across those (ABI 2)"
	}
	if abi >= 3 {
		s += "; truncation limited too (ABI 3)"
	}
	if abi >= 6 {
		s += "; abstract unix sockets and signals scoped to the sandbox (ABI 6)"
	}
	return s
}

func checkLandlock(opts Options) Check {
	c := Check{Name: "landlock"}
	abi, err := llsys.LandlockGetABIVersion()
	if opts.simulates(SimulateNoLandlock) {
		abi, err = 0, errors.New("simulated: no Landlock")
	}
	if err != nil || abi < 1 {
		lsm, lerr := readTrim(filepath.Join(sysDir, "kernel/security/lsm"))
		where := ""
		if lerr == nil {
			where = " (active LSMs: " + lsm + ")"
		}
		c.Status = Missing
		c.Found = fmt.Sprintf("not available%s: authored plugins ask for it (\"landlock\": \"required\") and will not start", where)
		c.Fix = "use Linux 5.13 or later built with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter (e.g. lsm=landlock,lockdown,yama,integrity,apparmor); or set \"landlock\": \"bestEffort\" in manifests to run without it"
		return c
	}
	c.Status = OK
	c.Found = fmt.Sprintf("ABI %d: %s", abi, landlockNotes(abi))
	if abi < 6 {
		c.Status = Warn
		c.Fix = "Linux 6.12 or later (ABI 6) also scopes abstract unix sockets and signals; until then a plugin may reach host abstract sockets in a shared network namespace"
	}
	return c
}

// checkShim: the exec shim runs from a sealed, executable memfd, which
// vm.memfd_noexec = 2 forbids.
func checkShim() Check {
	c := Check{Name: "exec shim"}
	noexec, _ := readTrim(filepath.Join(procDir, "sys/vm/memfd_noexec"))
	if _, err := shim.Executable(); err != nil {
		c.Status, c.Found = Missing, fmt.Sprintf("cannot make the shim's executable memfd (%v)", err)
		c.Fix = "plugbox's layers run from it"
		if noexec == "2" {
			c.Fix = "vm.memfd_noexec is 2, which forbids executable memfds: run 'sysctl vm.memfd_noexec=1' as root"
		}
		return c
	}
	c.Status = OK
	c.Found = "runs from a sealed memfd: applies Landlock, rlimits and the filter, then execs the plugin"
	return c
}

// cgroupMode returns "v2", "hybrid" or "v1".
func cgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs(filepath.Join(sysDir, "fs/cgroup"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if unix.Statfs(filepath.Join(sysDir, "fs/cgroup/unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "hybrid"
	}
	return "v1"
}

// cgroupControllers returns the controllers plugbox can use: in v2 those of
// the root's cgroup.controllers, otherwise the enabled, mounted v1 ones.
func cgroupControllers(mode string) map[string]bool {
	out := map[string]bool{}
	if mode == "v2" {
		raw, _ := readTrim(filepath.Join(sysDir, "fs/cgroup/cgroup.controllers"))
		for _, c := range strings.Fields(raw) {
			out[c] = true
		}
		return out
	}
	data, _ := os.ReadFile(filepath.Join(procDir, "cgroups"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[1] != "0" && f[3] == "1" {
			out[f[0]] = true
		}
	}
	return out
}

func checkCgroups() []Check {
	mode := cgroupMode()
	have := cgroupControllers(mode)
	c := Check{Name: "cgroups"}
	var missing []string
	for _, want := range []string{"memory", "pids", "cpu"} {
		if !have[want] {
			missing = append(missing, want)
		}
	}
	desc := map[string]string{"v2": "v2 (unified)", "hybrid": "v1 controllers with v2 at /sys/fs/cgroup/unified (hybrid)", "v1": "v1"}[mode]
	if len(missing) > 0 {
		c.Status = Missing
		c.Found = fmt.Sprintf("%s without the %s controller(s): the default memory, pids and CPU limits cannot be applied", desc, strings.Join(missing, ", "))
		c.Fix = "enable them (remove cgroup_disable= from the kernel command line, mount the v1 hierarchies, or boot with systemd.unified_cgroup_hierarchy=1)"
	} else {
		c.Status, c.Found = OK, desc+": memory, pids and cpu limits applied with cgroupfs; the OOM killer's and the pids limit's hits are reported"
	}
	return []Check{c, checkDelegation(mode)}
}

// checkDelegation: a rootless user's sandboxes get limits only in a
// cgroup the user may write.
func checkDelegation(mode string) Check {
	c := Check{Name: "rootless cgroups"}
	howV2 := "delegate a cgroup v2 subtree to the user (systemd: Delegate=yes, e.g. run plugbox in 'systemd-run --user --scope')"
	howV1 := "create a cgroup per controller (memory, pids, cpu, ...) owned by the user and start the user's session in it"
	how := howV2
	if mode != "v2" {
		how = howV1
	}
	if os.Geteuid() == 0 {
		c.Status, c.Found = Info, "rootless users need a cgroup delegated to them for the default limits"
		c.Fix = how
		return c
	}
	own, err := ownCgroups(mode)
	if err != nil {
		c.Status, c.Found, c.Fix = Missing, fmt.Sprintf("cannot read your cgroups (%v)", err), how
		return c
	}
	var closed []string
	for _, dir := range own {
		if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
			closed = append(closed, dir)
		}
	}
	if len(closed) > 0 {
		c.Status = Missing
		c.Found = fmt.Sprintf("uid %d cannot write its cgroup %s: the default memory, pids and CPU limits cannot be applied", os.Geteuid(), strings.Join(closed, ", "))
		c.Fix = how
		return c
	}
	c.Status, c.Found = OK, "your cgroup is delegated to you: sandboxes get their limits below it"
	return c
}

// ownCgroups returns this process's cgroup directories of the controllers
// plugbox needs.
func ownCgroups(mode string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(procDir, "self/cgroup"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case mode == "v2" && f[0] == "0":
			out = append(out, filepath.Join(sysDir, "fs/cgroup", f[2]))
		case mode != "v2":
			for _, ctrl := range strings.Split(f[1], ",") {
				if ctrl == "memory" || ctrl == "pids" || ctrl == "cpu" {
					out = append(out, filepath.Join(sysDir, "fs/cgroup", ctrl, f[2]))
				}
			}
		}
	}
	return out, nil
}

// checkSubIDs: root gives each sandbox a host id range of its own from
// plugbox's pool (the plugbox entries of /etc/subuid and /etc/subgid, or
// nsutil.DefaultPool), minus every other entry and every account.
func checkSubIDs() Check {
	c := Check{Name: "/etc/subuid"}
	if os.Geteuid() != 0 {
		entries, _ := readSubIDs(filepath.Join(etcDir, "subuid"))
		var mine []string
		for _, e := range entries {
			if e.Owner == strconv.Itoa(os.Geteuid()) || e.Owner == userName() {
				mine = append(mine, e.IDRange.String())
			}
		}
		c.Status = Info
		c.Found = "rootless plugbox maps only your own uid and gid, so it needs no subordinate ids"
		if len(mine) > 0 {
			c.Found += " (yours: " + strings.Join(mine, ", ") + ")"
		}
		return c
	}
	var parts []string
	room := -1
	for _, f := range []struct{ subid, accounts string }{{"subuid", "passwd"}, {"subgid", "group"}} {
		entries, err := readSubIDs(filepath.Join(etcDir, f.subid))
		if err != nil {
			c.Status, c.Found, c.Fix = Missing, err.Error(), "fix the line: creates refuse to hand out ids while they cannot read the file"
			return c
		}
		source := "nsutil's default pool " + nsutil.DefaultPool.String()
		for _, e := range entries {
			if e.Owner == nsutil.PoolOwner {
				source = "the " + nsutil.PoolOwner + " entries"
				break
			}
		}
		n := 0
		for _, r := range nsutil.Pool(entries, accountIDs(filepath.Join(etcDir, f.accounts))) {
			n += int(r.Size / nsutil.SandboxIDs)
		}
		if room < 0 || n < room {
			room = n
		}
		parts = append(parts, fmt.Sprintf("%s from %s", f.subid, source))
	}
	if room == 0 {
		c.Status = Missing
		c.Found = "no free range of " + strconv.Itoa(nsutil.SandboxIDs) + " host ids is left for sandboxes (" + strings.Join(parts, ", ") + ", minus other entries and accounts)"
		c.Fix = fmt.Sprintf("add a line %s:START:COUNT to /etc/subuid and /etc/subgid over ids no user holds, e.g. %s:%d:%d", nsutil.PoolOwner, nsutil.PoolOwner, nsutil.DefaultPool.Start, nsutil.DefaultPool.Size)
		return c
	}
	c.Status = OK
	c.Found = fmt.Sprintf("each sandbox gets %d host ids of its own: %s, minus other users' entries and accounts; room for %d sandboxes", nsutil.SandboxIDs, strings.Join(parts, ", "), room)
	return c
}

func readSubIDs(path string) ([]nsutil.SubIDEntry, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return nsutil.ParseSubIDs(path, data)
}

// accountIDs returns the ids (third field) of a passwd or group file.
func accountIDs(path string) []uint32 {
	data, _ := os.ReadFile(path)
	var ids []uint32
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) > 2 {
			if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				ids = append(ids, uint32(id))
			}
		}
	}
	return ids
}

func userName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func checkOverlay() Check {
	c := Check{Name: "overlayfs"}
	data, _ := os.ReadFile(filepath.Join(procDir, "filesystems"))
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "overlay" {
			c.Status, c.Found = OK, "available: layered root filesystems (podman, containerd) work; authored bundles need none"
			return c
		}
	}
	c.Status, c.Found = Warn, "not loaded: podman's and containerd's layered root filesystems need it; authored bundles do not"
	c.Fix = "run 'modprobe overlay' as root"
	return c
}

// checkSpecStoreBypass: loading a seccomp filter turns on the Spectre v4
// mitigation for the process unless SECCOMP_FILTER_FLAG_SPEC_ALLOW is set.
func checkSpecStoreBypass() Check {
	c := Check{Name: "spec_store_bypass", Status: Info}
	mode, err := readTrim(filepath.Join(sysDir, "devices/system/cpu/vulnerabilities/spec_store_bypass"))
	switch {
	case err != nil:
		c.Found = "the kernel does not say (no " + filepath.Join(sysDir, "devices/system/cpu/vulnerabilities/spec_store_bypass") + ")"
	case strings.Contains(mode, "seccomp"):
		c.Found = mode + ": the plugin's seccomp filter turns the mitigation on for it (up to 15-85% slower, runc#2430) unless its manifest sets \"seccompSpecAllow\": true (recorded in state)"
	case strings.HasPrefix(mode, "Not affected"):
		c.Found = mode + ": nothing to choose"
	case strings.HasPrefix(mode, "Vulnerable"):
		c.Status = Warn
		c.Found = mode + ": a plugin may read other processes' memory through store bypass"
		c.Fix = "boot with spec_store_bypass_disable=seccomp (or =on)"
	default:
		c.Found = mode + ": seccomp filters leave it as it is; a plugin may turn it on for itself with prctl"
	}
	return c
}
