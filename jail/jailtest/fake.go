// Package jailtest provides Fake, a recording jail.Sys with a small model
// of the FreeBSD kernel behind it, so that the FreeBSD backend's call
// sequences run and are checked on any OS.
package jailtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/jail"
)

// ErrExeced is what Fake's Exec and Fexecve return: the point where the
// real call would have replaced the process.
var ErrExeced = errors.New("jailtest: exec reached")

// Errno values with FreeBSD's numbers, as the backend compares them.
var (
	ENOENT = jail.ENOENT
	ESRCH  = jail.ESRCH
	EBADF  = jail.EBADF
	EBUSY  = jail.EBUSY
	EEXIST = jail.EEXIST
	EINVAL = jail.EINVAL
	ENOSYS = jail.ENOSYS
	EPERM  = jail.EPERM
)

// FD is a descriptor of the fake process.
type FD struct {
	Flags     int // F_GETFD
	Status    int // F_GETFL
	Info      jail.FileInfo
	Listening bool
}

// Fake records every jail.Sys call as one line in Calls and answers from
// its model: jails by name, mounts stacked by path, rctl rules, devfs
// rulesets, processes and descriptors. Fields may be preset before use.
type Fake struct {
	mu    sync.Mutex
	calls []string
	fails []failure

	// Euid is what Geteuid returns.
	Euid int
	// Jails are the live jails by name; NextJID numbers new ones.
	Jails   map[string]*jail.JailInfo
	NextJID int
	// Rules are the rctl rules in force.
	Rules map[string]bool
	// RacctDisabled makes the rctl calls fail with ENOSYS, as with
	// kern.racct.enable=0.
	RacctDisabled bool
	// Rulesets are the loaded devfs rulesets (DefaultRulesets if nil).
	Rulesets map[int][]jail.DevfsRule
	// Procs are the processes kern.proc reports.
	Procs []jail.Proc
	// FDs are the descriptors of the calling process.
	FDs map[int]FD
	// Files maps paths that Open, ReadFile and Executable know to host
	// files; Executables lists the paths Executable accepts.
	Files       map[string]string
	Executables map[string]bool
	// Busy lists file systems whose plain unmount fails with EBUSY.
	Busy map[jail.FSID]bool
	// Misdirect maps an nmount fspath to where the kernel really mounts
	// it, as when a component was swapped for a symbolic link.
	Misdirect map[string]string
	// OnCall runs with each call's line before the model answers it.
	OnCall func(line string)
	// Start answers StartProcess, as the forked helper would.
	Start func(cmd *exec.Cmd) (jail.Process, error)

	// NextFD is the descriptor number Open gives next (from 100), so
	// recorded calls are the same on every run.
	NextFD int

	mounts   []jail.FSInfo
	nextFSID int32
}

type failure struct {
	prefix string
	err    error
}

// New returns an empty Fake running as root, with the default devfs
// rulesets loaded and jids starting at 1.
func New() *Fake {
	return &Fake{
		Jails: map[string]*jail.JailInfo{}, NextJID: 1, Rules: map[string]bool{},
		FDs: map[int]FD{}, Files: map[string]string{}, Executables: map[string]bool{},
		Busy: map[jail.FSID]bool{}, Misdirect: map[string]string{}, nextFSID: 100, NextFD: 100,
	}
}

// FailOn makes the next call whose line starts with prefix fail with err.
func (f *Fake) FailOn(prefix string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, failure{prefix, err})
}

// Calls returns the lines recorded so far.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Reset forgets the recorded calls (the model stays).
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Mounts returns the mounted file systems, oldest first.
func (f *Fake) Mounts() []jail.FSInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]jail.FSInfo(nil), f.mounts...)
}

// Mount adds a mounted file system to the model, as if made earlier.
func (f *Fake) Mount(fs jail.FSInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mounts = append(f.mounts, fs)
}

// call records line and returns the injected failure for it, if any. The
// caller holds no lock; call takes it.
func (f *Fake) call(format string, a ...any) error {
	line := fmt.Sprintf(format, a...)
	if f.OnCall != nil {
		f.OnCall(line)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, line)
	for i, fl := range f.fails {
		if strings.HasPrefix(line, fl.prefix) {
			f.fails = append(f.fails[:i], f.fails[i+1:]...)
			return fl.err
		}
	}
	return nil
}

// Render renders params as the call lines show them.
func Render(params []jail.Param) string {
	s := make([]string, len(params))
	for i, p := range params {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// Geteuid implements jail.Sys.
func (f *Fake) Geteuid() int { return f.Euid }

// JailSet implements jail.Sys: JAIL_CREATE makes a jail, EEXIST if the
// name is taken, EINVAL for what kern_jail_set refuses (a vnet parameter
// with ip4/ip6, a child its parent cannot hold: EPERM).
func (f *Fake) JailSet(params []jail.Param, flags int) (int, error) {
	if err := f.call("jail_set flags=%#x %s", flags, Render(params)); err != nil {
		return -1, err
	}
	info := &jail.JailInfo{}
	var name string
	var vnet, ipRestricted bool
	for _, p := range params {
		switch p.Name {
		case "vnet":
			vnet = true // present, whatever its value
		case "ip4", "ip6", "ip4.addr", "ip6.addr":
			ipRestricted = true
		}
		switch p.Name {
		case "name":
			name = p.Str
		case "path":
			info.Path = p.Str
		case "children.max":
			info.ChildrenMax = int(p.Int)
		}
	}
	// kern_jail_set: any vnet parameter sets PR_VNET in ch_flags and any
	// ip4/ip6 one PR_IPx_USER, and the two together are refused.
	if vnet && ipRestricted {
		return -1, fmt.Errorf("vnet jails cannot have IP address restrictions (%w)", EINVAL)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.Jails[name]; ok {
		return -1, fmt.Errorf("jail %q already exists (%w)", name, EEXIST)
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		parent, ok := f.Jails[name[:i]]
		if !ok {
			return -1, fmt.Errorf("jail %q not found (%w)", name[:i], ENOENT)
		}
		if parent.ChildrenCur >= parent.ChildrenMax || info.ChildrenMax >= parent.ChildrenMax {
			return -1, EPERM
		}
		parent.ChildrenCur++
	}
	info.JID = f.NextJID
	f.NextJID++
	f.Jails[name] = info
	return info.JID, nil
}

// JailGet implements jail.Sys.
func (f *Fake) JailGet(name string) (jail.JailInfo, error) {
	if err := f.call("jail_get name=%q", name); err != nil {
		return jail.JailInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.Jails[name]
	if !ok {
		return jail.JailInfo{}, fmt.Errorf("jail %q not found (%w)", name, ENOENT)
	}
	return *j, nil
}

// JailRemove implements jail.Sys: the jail and its processes go.
func (f *Fake) JailRemove(jid int) error {
	if err := f.call("jail_remove %d", jid); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, j := range f.Jails {
		if j.JID == jid {
			delete(f.Jails, name)
			var keep []jail.Proc
			for _, p := range f.Procs {
				if p.JID != jid {
					keep = append(keep, p)
				}
			}
			f.Procs = keep
			return nil
		}
	}
	return EINVAL
}

func paramStr(params []jail.Param, name string) string {
	for _, p := range params {
		if p.Name == name {
			return p.Str
		}
	}
	return ""
}

// Nmount implements jail.Sys: the file system is stacked on fspath (or
// where Misdirect sends it).
func (f *Fake) Nmount(params []jail.Param, flags int) error {
	if err := f.call("nmount flags=%#x %s", flags, Render(params)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	on := paramStr(params, "fspath")
	if to, ok := f.Misdirect[on]; ok {
		on = to
	}
	from := paramStr(params, "target")
	if from == "" {
		from = paramStr(params, "from")
	}
	f.mounts = append(f.mounts, jail.FSInfo{FSID: jail.FSID{f.nextFSID, 0x3a}, Type: paramStr(params, "fstype"), MntOn: on, MntFrom: from})
	f.nextFSID++
	return nil
}

// Statfs implements jail.Sys: the newest mount covering path, or the root
// file system.
func (f *Fake) Statfs(path string) (jail.FSInfo, error) {
	if err := f.call("statfs %s", path); err != nil {
		return jail.FSInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	best := jail.FSInfo{FSID: jail.FSID{1, 1}, Type: "ufs", MntOn: "/", MntFrom: "/dev/ada0p2"}
	for _, m := range f.mounts {
		if (path == m.MntOn || strings.HasPrefix(path, strings.TrimSuffix(m.MntOn, "/")+"/")) && len(m.MntOn) >= len(best.MntOn) {
			best = m
		}
	}
	return best, nil
}

// Unmount implements jail.Sys.
func (f *Fake) Unmount(fsid jail.FSID, flags int) error {
	if err := f.call("unmount %s flags=%#x", fsid, flags); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.mounts {
		if m.FSID == fsid {
			if f.Busy[fsid] && flags&jail.MntForce == 0 {
				return EBUSY
			}
			f.mounts = append(f.mounts[:i], f.mounts[i+1:]...)
			return nil
		}
	}
	return ENOENT
}

// RctlAddRule implements jail.Sys.
func (f *Fake) RctlAddRule(rule string) error {
	if err := f.call("rctl_add_rule %s", rule); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.RacctDisabled {
		return ENOSYS
	}
	f.Rules[rule] = true
	return nil
}

// RctlRemoveRule implements jail.Sys: removes the rules the filter
// matches, ESRCH when none.
func (f *Fake) RctlRemoveRule(filter string) error {
	if err := f.call("rctl_remove_rule %s", filter); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.RacctDisabled {
		return ENOSYS
	}
	found := false
	for r := range f.Rules {
		if strings.HasPrefix(r, filter+"=") {
			delete(f.Rules, r)
			found = true
		}
	}
	if !found {
		return ESRCH
	}
	return nil
}

// RuleList returns the rctl rules in force, sorted.
func (f *Fake) RuleList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for r := range f.Rules {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// DevfsRules implements jail.Sys.
func (f *Fake) DevfsRules(ruleset int) ([]jail.DevfsRule, error) {
	if err := f.call("devfs_rules %d", ruleset); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.Rulesets
	if rs == nil {
		rs = DefaultRulesets()
	}
	return rs[ruleset], nil
}

// Processes implements jail.Sys.
func (f *Fake) Processes() ([]jail.Proc, error) {
	if err := f.call("sysctl kern.proc.proc"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]jail.Proc(nil), f.Procs...), nil
}

// Process implements jail.Sys.
func (f *Fake) Process(pid int) ([]jail.Proc, error) {
	if err := f.call("sysctl kern.proc.pid.%d", pid); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.Procs {
		if p.PID == pid {
			return []jail.Proc{p}, nil
		}
	}
	return nil, nil
}

// Kill implements jail.Sys.
func (f *Fake) Kill(pid int, sig syscall.Signal) error {
	if err := f.call("kill %d %d", pid, int(sig)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.Procs {
		if p.PID == pid {
			return nil
		}
	}
	return ESRCH
}

// Ktrace implements jail.Sys.
func (f *Fake) Ktrace(file string, ops, facs, pid int) error {
	return f.call("ktrace %s ops=%d facs=%#x pid=%d", file, ops, facs, pid)
}

// StartProcess implements jail.Sys with the Start hook.
func (f *Fake) StartProcess(cmd *exec.Cmd) (jail.Process, error) {
	var setsid bool
	if cmd.SysProcAttr != nil {
		setsid = cmd.SysProcAttr.Setsid
	}
	if err := f.call("start %s fds=%d setsid=%v", strings.Join(cmd.Args, " "), 3+len(cmd.ExtraFiles), setsid); err != nil {
		return nil, err
	}
	if f.Start == nil {
		return nil, errors.New("jailtest: no Start hook")
	}
	return f.Start(cmd)
}

func (f *Fake) fd(n int) (FD, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.FDs[n]
	if !ok {
		return FD{}, EBADF
	}
	return d, nil
}

// FDFlags implements jail.Sys.
func (f *Fake) FDFlags(fd int) (int, error) {
	if err := f.call("fcntl %d F_GETFD", fd); err != nil {
		return 0, err
	}
	d, err := f.fd(fd)
	return d.Flags, err
}

// StatusFlags implements jail.Sys.
func (f *Fake) StatusFlags(fd int) (int, error) {
	if err := f.call("fcntl %d F_GETFL", fd); err != nil {
		return 0, err
	}
	d, err := f.fd(fd)
	return d.Status, err
}

// FileInfo implements jail.Sys.
func (f *Fake) FileInfo(fd int) (jail.FileInfo, error) {
	if err := f.call("fcntl %d F_KINFO", fd); err != nil {
		return jail.FileInfo{}, err
	}
	d, err := f.fd(fd)
	return d.Info, err
}

// Listening implements jail.Sys.
func (f *Fake) Listening(fd int) (bool, error) {
	if err := f.call("getsockopt %d SO_ACCEPTCONN", fd); err != nil {
		return false, err
	}
	d, err := f.fd(fd)
	return d.Listening, err
}

// Setrlimit implements jail.Sys.
func (f *Fake) Setrlimit(resource int, soft, max uint64) error {
	return f.call("setrlimit %d %d %d", resource, soft, max)
}

// Setgroups implements jail.Sys.
func (f *Fake) Setgroups(gids []int) error { return f.call("setgroups %v", gids) }

// Setresgid implements jail.Sys.
func (f *Fake) Setresgid(r, e, s int) error { return f.call("setresgid %d %d %d", r, e, s) }

// Setresuid implements jail.Sys.
func (f *Fake) Setresuid(r, e, s int) error { return f.call("setresuid %d %d %d", r, e, s) }

// JailAttach implements jail.Sys.
func (f *Fake) JailAttach(jid int) error { return f.call("jail_attach %d", jid) }

// Umask implements jail.Sys.
func (f *Fake) Umask(mask int) { _ = f.call("umask %#o", mask) }

// Chdir implements jail.Sys.
func (f *Fake) Chdir(dir string) error { return f.call("chdir %s", dir) }

// Executable implements jail.Sys.
func (f *Fake) Executable(p string) bool {
	_ = f.call("executable %s", p)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Executables[p]
}

// Open implements jail.Sys: paths in Files open the host file they name,
// moved to descriptor NextFD.
func (f *Fake) Open(p string, flags int) (int, error) {
	if err := f.call("open %s flags=%#x", p, flags); err != nil {
		return -1, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	host, ok := f.Files[p]
	if !ok {
		return -1, ENOENT
	}
	fd, err := unix.Open(host, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	want := f.NextFD
	f.NextFD++
	if err := unix.Dup2(fd, want); err != nil {
		unix.Close(fd)
		return -1, err
	}
	unix.Close(fd)
	unix.CloseOnExec(want)
	return want, nil
}

// ReadFile implements jail.Sys.
func (f *Fake) ReadFile(p string) ([]byte, error) {
	if err := f.call("read %s", p); err != nil {
		return nil, err
	}
	f.mu.Lock()
	host, ok := f.Files[p]
	f.mu.Unlock()
	if !ok {
		return nil, &os.PathError{Op: "open", Path: p, Err: ENOENT}
	}
	return os.ReadFile(host)
}

// ProcctlSelf implements jail.Sys.
func (f *Fake) ProcctlSelf(cmd, arg int) error { return f.call("procctl %d %d", cmd, arg) }

// CloseRange implements jail.Sys.
func (f *Fake) CloseRange(first, flags int) error {
	return f.call("close_range %d flags=%#x", first, flags)
}

// SetCloexec implements jail.Sys.
func (f *Fake) SetCloexec(fd int, on bool) error { return f.call("cloexec %d %v", fd, on) }

// CapRightsLimit implements jail.Sys.
func (f *Fake) CapRightsLimit(fd int, r jail.Rights) error {
	return f.call("cap_rights_limit %d %s", fd, strings.Join(jail.RightNames(r), "|"))
}

// CapFcntlsLimit implements jail.Sys.
func (f *Fake) CapFcntlsLimit(fd int, mask uint32) error {
	return f.call("cap_fcntls_limit %d %#x", fd, mask)
}

// CapIoctlsLimit implements jail.Sys.
func (f *Fake) CapIoctlsLimit(fd int, cmds []uint64) error {
	return f.call("cap_ioctls_limit %d %#x", fd, cmds)
}

// CapEnter implements jail.Sys.
func (f *Fake) CapEnter() error { return f.call("cap_enter") }

// Fexecve implements jail.Sys; it returns ErrExeced.
func (f *Fake) Fexecve(fd int, argv, env []string) error {
	if err := f.call("fexecve %d %q env=%q", fd, argv, env); err != nil {
		return err
	}
	return ErrExeced
}

// Exec implements jail.Sys; it returns ErrExeced.
func (f *Fake) Exec(p string, argv, env []string) error {
	if err := f.call("execve %s %q env=%q", p, argv, env); err != nil {
		return err
	}
	return ErrExeced
}

// Process is a fake started process: Wait returns once Exit or Kill is
// called.
type Process struct {
	PID  int
	once sync.Once
	done chan jail.ExitStatus
	st   jail.ExitStatus
}

// NewProcess returns a running fake process with pid.
func NewProcess(pid int) *Process { return &Process{PID: pid, done: make(chan jail.ExitStatus, 1)} }

// Pid implements jail.Process.
func (p *Process) Pid() int { return p.PID }

// Exit makes Wait return st.
func (p *Process) Exit(st jail.ExitStatus) { p.once.Do(func() { p.done <- st }) }

// Kill implements jail.Process.
func (p *Process) Kill() error {
	p.Exit(jail.ExitStatus{Code: -1, Signal: syscall.SIGKILL})
	return nil
}

// Release implements jail.Process.
func (p *Process) Release() error { return nil }

// Wait implements jail.Process.
func (p *Process) Wait() (jail.ExitStatus, error) {
	st := <-p.done
	p.done <- st
	return st, nil
}

// DefaultRulesets returns rulesets 1..4 of /etc/defaults/devfs.rules:
// devfsrules_hide_all, devfsrules_unhide_basic, devfsrules_unhide_login
// and devfsrules_jail.
func DefaultRulesets() map[int][]jail.DevfsRule {
	unhide := func(rs, n int, pat string) jail.DevfsRule {
		return jail.DevfsRule{Ruleset: rs, Number: n, Icond: jail.DRCPathptrn, Pattern: pat, Iacts: jail.DRABacts, Bacts: jail.DRBUnhide}
	}
	include := func(rs, n, inc int) jail.DevfsRule {
		return jail.DevfsRule{Ruleset: rs, Number: n, Iacts: jail.DRAIncset, Incset: inc}
	}
	rs := map[int][]jail.DevfsRule{
		1: {{Ruleset: 1, Number: 100, Iacts: jail.DRABacts, Bacts: jail.DRBHide}},
		4: {include(4, 100, 1), include(4, 200, 2), include(4, 300, 3), unhide(4, 400, "fuse"), unhide(4, 500, "zfs")},
	}
	for i, p := range []string{"log", "null", "zero", "crypto", "random", "urandom"} {
		rs[2] = append(rs[2], unhide(2, 100*(i+1), p))
	}
	for i, p := range []string{"ptyp*", "ttyp*", "ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr"} {
		rs[3] = append(rs[3], unhide(3, 100*(i+1), p))
	}
	return rs
}
