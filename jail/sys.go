package jail

import (
	"fmt"
	"os/exec"
	"syscall"
)

// Sys is the seam between plugbox's FreeBSD logic and the kernel. Every
// system call the backend (create, start, kill, delete) and its init helper
// (inside the jail) make goes through one method, which does that call and
// nothing else. HostSys (sys_freebsd.go) makes the calls; jailtest.Fake
// records them and answers from a model, so the sequences in package
// sandbox, their order and their partial-failure teardown are tested on
// any OS.
type Sys interface {
	// Geteuid is geteuid(2).
	Geteuid() int
	// JailSet is jail_set(2) with params and flags; it returns the jid.
	JailSet(params []Param, flags int) (int, error)
	// JailGet is jail_get(2) keyed by name; an error wrapping ENOENT
	// means there is no such jail.
	JailGet(name string) (JailInfo, error)
	// JailRemove is jail_remove(2).
	JailRemove(jid int) error
	// Nmount is nmount(2) with params (see Mount.NmountParams) and flags.
	Nmount(params []Param, flags int) error
	// Statfs is statfs(2), following symbolic links.
	Statfs(path string) (FSInfo, error)
	// Unmount is unmount(2) of the file system fsid (MNT_BYFSID) with
	// the extra flags (MNT_FORCE).
	Unmount(fsid FSID, flags int) error
	// RctlAddRule is rctl_add_rule(2) with a complete rule.
	RctlAddRule(rule string) error
	// RctlRemoveRule is rctl_remove_rule(2) with a filter.
	RctlRemoveRule(filter string) error
	// DevfsRules lists the rules of a devfs ruleset, in order, with the
	// DEVFSIO_RGETNEXT ioctl on /dev; a ruleset that is not loaded has
	// no rules.
	DevfsRules(ruleset int) ([]DevfsRule, error)
	// Processes is the kern.proc.proc sysctl: every process.
	Processes() ([]Proc, error)
	// Process is the kern.proc.pid sysctl: the process pid, or none.
	Process(pid int) ([]Proc, error)
	// Kill is kill(2).
	Kill(pid int, sig syscall.Signal) error
	// Ktrace is ktrace(2): ops on the trace points facs of pid, written
	// to the existing regular file.
	Ktrace(file string, ops, facs, pid int) error
	// StartProcess forks and executes cmd (the init helper).
	StartProcess(cmd *exec.Cmd) (Process, error)

	// FDFlags is fcntl(F_GETFD).
	FDFlags(fd int) (int, error)
	// StatusFlags is fcntl(F_GETFL).
	StatusFlags(fd int) (int, error)
	// FileInfo is fcntl(F_KINFO): what the descriptor refers to.
	FileInfo(fd int) (FileInfo, error)
	// Listening is getsockopt(SO_ACCEPTCONN).
	Listening(fd int) (bool, error)

	// Setrlimit is setrlimit(2) (values above RLIM_INFINITY are clamped).
	Setrlimit(resource int, soft, max uint64) error
	// Setgroups is setgroups(2).
	Setgroups(gids []int) error
	// Setresgid is setresgid(2).
	Setresgid(rgid, egid, sgid int) error
	// Setresuid is setresuid(2).
	Setresuid(ruid, euid, suid int) error
	// JailAttach is jail_attach(2).
	JailAttach(jid int) error
	// Umask is umask(2).
	Umask(mask int)
	// Chdir is chdir(2).
	Chdir(dir string) error
	// Executable reports whether path is a regular file the caller may
	// execute (stat(2) and access(2) with X_OK).
	Executable(path string) bool
	// Open is open(2) with O_CLOEXEC added; it returns the descriptor.
	Open(path string, flags int) (int, error)
	// ReadFile reads a whole file (rtld's hints file).
	ReadFile(path string) ([]byte, error)
	// ProcctlSelf is procctl(2) on the calling process with an int
	// argument: PROC_NO_NEW_PRIVS_CTL, PROC_TRAPCAP_CTL.
	ProcctlSelf(cmd, arg int) error
	// CloseRange is close_range(2) from first to the last descriptor.
	CloseRange(first, flags int) error
	// SetCloexec sets or clears FD_CLOEXEC (fcntl F_SETFD).
	SetCloexec(fd int, on bool) error
	// CapRightsLimit is cap_rights_limit(2).
	CapRightsLimit(fd int, r Rights) error
	// CapFcntlsLimit is cap_fcntls_limit(2).
	CapFcntlsLimit(fd int, mask uint32) error
	// CapIoctlsLimit is cap_ioctls_limit(2).
	CapIoctlsLimit(fd int, cmds []uint64) error
	// CapEnter is cap_enter(2).
	CapEnter() error
	// Fexecve is fexecve(2); it returns only on failure.
	Fexecve(fd int, argv, env []string) error
	// Exec is execve(2); it returns only on failure.
	Exec(path string, argv, env []string) error
}

// Process is a started init helper.
type Process interface {
	// Pid returns its process id.
	Pid() int
	// Wait waits for it to exit.
	Wait() (ExitStatus, error)
	// Kill sends it SIGKILL.
	Kill() error
	// Release frees what the caller holds for it, for a process that
	// outlives the caller (a detached container).
	Release() error
}

// ExitStatus is how a process ended: its exit code, or the signal that
// killed it.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal
}

// JailInfo is what jail_get(2) reports of a jail plugbox looks up.
type JailInfo struct {
	JID         int
	Path        string
	ChildrenMax int
	ChildrenCur int
}

// FSID is a file system id (fsid_t), the handle unmount(2) takes with
// MNT_BYFSID.
type FSID [2]int32

// String renders fsid as unmount(2) parses it with MNT_BYFSID.
func (f FSID) String() string { return fmt.Sprintf("FSID:%d:%d", f[0], f[1]) }

// FSInfo is the part of struct statfs plugbox checks.
type FSInfo struct {
	FSID FSID
	// Type is f_fstypename ("nullfs", "devfs", "ufs", ...).
	Type string
	// MntOn is f_mntonname, the global path the file system covers.
	MntOn string
	// MntFrom is f_mntfromname (for nullfs the exposed directory).
	MntFrom string
}

// Values of procctl(2) plugbox uses (sys/procctl.h).
const (
	ProcTrapcapCtl      = 9  // PROC_TRAPCAP_CTL
	ProcTrapcapEnable   = 1  // PROC_TRAPCAP_CTL_ENABLE
	ProcNoNewPrivsCtl   = 19 // PROC_NO_NEW_PRIVS_CTL (FreeBSD 14.0)
	ProcNoNewPrivEnable = 1  // PROC_NO_NEW_PRIVS_ENABLE
)

// Flags of jail_set(2) and jail_get(2) (sys/jail.h).
const (
	FlagCreate = 0x01 // JAIL_CREATE
	FlagUpdate = 0x02 // JAIL_UPDATE
	FlagAttach = 0x04 // JAIL_ATTACH
)

// Other constants of the calls above, with FreeBSD's values, for code that
// builds their arguments on any OS.
const (
	MntForce          = 0x80000    // MNT_FORCE
	MntByFSID         = 0x8000000  // MNT_BYFSID
	CloseRangeCloexec = 1 << 2     // CLOSE_RANGE_CLOEXEC (sys/unistd.h)
	FDCloexec         = 1          // FD_CLOEXEC
	OPath             = 0x00400000 // O_PATH (sys/fcntl.h)
	ORdonly           = 0x0000     // O_RDONLY
	OWronly           = 0x0001     // O_WRONLY
	ORdwr             = 0x0002     // O_RDWR
	OAccmode          = 0x0003     // O_ACCMODE
	ODirectory        = 0x00020000 // O_DIRECTORY
)

// FreeBSD's numbers of the errors the backend tests for (sys/errno.h).
// They are spelled out so that the logic compares with FreeBSD's values
// on any OS: ENOSYS, say, is 78 on FreeBSD and 38 on Linux.
const (
	EPERM       = syscall.Errno(1)
	ENOENT      = syscall.Errno(2)
	ESRCH       = syscall.Errno(3)
	EBADF       = syscall.Errno(9)
	EBUSY       = syscall.Errno(16)
	EEXIST      = syscall.Errno(17)
	EINVAL      = syscall.Errno(22)
	EOPNOTSUPP  = syscall.Errno(45)
	ENOSYS      = syscall.Errno(78)
	ENOTCAPABLE = syscall.Errno(93)
	ECAPMODE    = syscall.Errno(94)
)
