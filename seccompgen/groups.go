package seccompgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Group is a named set of syscalls a plugin needs for one kind of work.
type Group struct {
	// Name is what manifests and Options.Groups use, e.g. "fs-read".
	Name string
	// Summary is one line for `plugbox seccomp groups`.
	Summary string
	// Syscalls lists every syscall the group allows, at least in part, sorted.
	Syscalls []string
	// Conditional lists the names from Syscalls that are allowed only with
	// certain arguments or answered ENOSYS (Explain shows the rule).
	Conditional []string
}

// sysnr holds a syscall's number on x86_64 ([0]) and aarch64 ([1]); -1 when
// the architecture lacks the call.
type sysnr [2]int

// condRule allows one syscall when all of args match (they are on distinct
// argument indexes, so runc and libseccomp AND them).
type condRule struct {
	name string
	args []specs.LinuxSeccompArg
	why  string // human description for Explain, e.g. "AF_UNIX"
}

// groupDef is the policy behind a Group.
type groupDef struct {
	name, summary string
	allow         []string   // allowed with any arguments
	conds         []condRule // allowed only with the given arguments
	enosys        []string   // answered ENOSYS so libc falls back to a filterable call
	socket        bool       // socket(2) in the families Options.Network allows
}

// Linux constants the policy needs. They are spelled out rather than taken
// from x/sys/unix so the pure half builds (with Linux values) on FreeBSD.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38

	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16

	cloneThread    = 0x00010000
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000
	cloneNSMask    = cloneNewNS | cloneNewCgroup | cloneNewUTS | cloneNewIPC | cloneNewUser | cloneNewPID | cloneNewNet

	// openWriteMask is O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE,
	// the same bits on x86_64 and aarch64. O_TRUNC is here because Linux
	// truncates even with O_RDONLY.
	openWriteMask = 0x1 | 0x2 | 0x40 | 0x200 | 0x400 | 0x400000

	ioFIONREAD   = 0x541B
	ioFIONBIO    = 0x5421
	ioFIOCLEX    = 0x5451
	ioFIONCLEX   = 0x5450
	ioTCGETS     = 0x5401
	ioTCSETS     = 0x5402
	ioTCSETSW    = 0x5403
	ioTCSETSF    = 0x5404
	ioTIOCGPGRP  = 0x540F
	ioTIOCSPGRP  = 0x5410
	ioTIOCSTI    = 0x5412
	ioTIOCGWINSZ = 0x5413
	ioTIOCSWINSZ = 0x5414
	ioTIOCLINUX  = 0x541C

	personaLinux = 0x0
	personaQuery = 0xffffffff
)

// Names for argument values, used by Explain and Minimize messages.
var (
	familyNames = map[uint64]string{afUnix: "AF_UNIX", afInet: "AF_INET", afInet6: "AF_INET6", afNetlink: "AF_NETLINK"}
	// grantableFamilies are the socket families some Network value allows.
	grantableFamilies = []uint64{afUnix, afInet, afInet6, afNetlink}
	ioctlNames        = map[uint64]string{
		ioFIONREAD: "FIONREAD", ioFIONBIO: "FIONBIO", ioFIOCLEX: "FIOCLEX", ioFIONCLEX: "FIONCLEX",
		ioTCGETS: "TCGETS", ioTCSETS: "TCSETS", ioTCSETSW: "TCSETSW", ioTCSETSF: "TCSETSF",
		ioTIOCGPGRP: "TIOCGPGRP", ioTIOCSPGRP: "TIOCSPGRP", ioTIOCSTI: "TIOCSTI",
		ioTIOCGWINSZ: "TIOCGWINSZ", ioTIOCSWINSZ: "TIOCSWINSZ", ioTIOCLINUX: "TIOCLINUX",
	}
	cloneFlagNames = []struct {
		bit  uint64
		name string
	}{
		{cloneNewNS, "CLONE_NEWNS"}, {cloneNewCgroup, "CLONE_NEWCGROUP"}, {cloneNewUTS, "CLONE_NEWUTS"},
		{cloneNewIPC, "CLONE_NEWIPC"}, {cloneNewUser, "CLONE_NEWUSER"}, {cloneNewPID, "CLONE_NEWPID"},
		{cloneNewNet, "CLONE_NEWNET"},
	}
)

func eq(index uint, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: v, Op: specs.OpEqualTo}
}

func maskedEq(index uint, mask, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: mask, ValueTwo: v, Op: specs.OpMaskedEqual}
}

func ioctlRules(reqs ...uint64) []condRule {
	var out []condRule
	for _, r := range reqs {
		out = append(out, condRule{"ioctl", []specs.LinuxSeccompArg{eq(1, r)}, ioctlNames[r]})
	}
	return out
}

var (
	// cloneThreadRule allows clone for a thread: CLONE_THREAD set (which
	// implies CLONE_VM, so it cannot fork) and no namespace flag.
	cloneThreadRule = condRule{"clone", []specs.LinuxSeccompArg{maskedEq(0, cloneNSMask|cloneThread, cloneThread)}, "a thread: CLONE_THREAD, no CLONE_NEW* flag"}
	// cloneForkRule allows clone for a new process: no CLONE_THREAD and no
	// namespace flag. With cloneThreadRule it covers every namespace-free
	// clone, and the two never overlap.
	cloneForkRule  = condRule{"clone", []specs.LinuxSeccompArg{maskedEq(0, cloneNSMask|cloneThread, 0)}, "a process: no CLONE_THREAD, no CLONE_NEW* flag"}
	openatReadRule = condRule{"openat", []specs.LinuxSeccompArg{maskedEq(2, openWriteMask, 0)}, "read-only flags: none of O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE"}
	openReadRule   = condRule{"open", []specs.LinuxSeccompArg{maskedEq(1, openWriteMask, 0)}, openatReadRule.why}
)

var fsReadAllow = []string{
	"access", "chdir", "faccessat", "faccessat2", "fadvise64", "fchdir", "fgetxattr", "flistxattr",
	"flock", "fstatfs", "getcwd", "getdents", "getdents64", "getxattr", "lgetxattr", "listxattr",
	"llistxattr", "lstat", "readahead", "readlink", "readlinkat", "stat", "statfs",
}

var fsWriteAllow = []string{
	"chmod", "chown", "creat", "fallocate", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
	"fdatasync", "fremovexattr", "fsetxattr", "fsync", "ftruncate", "futimesat", "lchown", "link",
	"linkat", "lremovexattr", "lsetxattr", "mkdir", "mkdirat", "mknod", "mknodat", "open", "openat",
	"openat2", "removexattr", "rename", "renameat", "renameat2", "rmdir", "setxattr", "symlink",
	"symlinkat", "sync_file_range", "syncfs", "truncate", "umask", "unlink", "unlinkat", "utime",
	"utimensat", "utimes",
}

var netClientAllow = []string{
	"connect", "getpeername", "getsockname", "getsockopt", "recvfrom", "recvmmsg", "recvmsg",
	"sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketpair",
}

// groupDefs is the policy. Names are lower-case words for what a plugin does.
var groupDefs = []groupDef{
	{
		name:    "base",
		summary: "always granted: memory, signals, threads, exit, clocks and sleep, ids, I/O on already-open fds, poll, pipes, execve (enough for a static binary)",
		allow: []string{
			// memory
			"brk", "madvise", "mincore", "mmap", "mprotect", "mremap", "msync", "munmap",
			// what the Go, glibc and musl runtimes do before main
			"arch_prctl", "futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake",
			"getrandom", "getrlimit", "prlimit64", "rseq", "set_robust_list", "set_tid_address", "setrlimit",
			// signals to itself
			"pause", "restart_syscall", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigreturn",
			"rt_sigsuspend", "rt_sigtimedwait", "sigaltstack", "tgkill", "tkill",
			// exit and exec (the plugin's own execve is the last call the filter sees)
			"execve", "exit", "exit_group",
			// clocks and sleep (Go's sysmon and glibc's sleep need these)
			"clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep", "time",
			// scheduling and identity, read only
			"getcpu", "getegid", "geteuid", "getgid", "getgroups", "getpgid", "getpgrp", "getpid",
			"getppid", "getresgid", "getresuid", "getrusage", "getsid", "gettid", "getuid",
			"sched_getaffinity", "sched_yield", "sysinfo", "times", "uname",
			// I/O on descriptors the plugin already holds; fstat is newfstatat
			// with AT_EMPTY_PATH in glibc 2.33+, statx in Rust's std
			"close", "close_range", "copy_file_range", "dup", "dup2", "dup3", "fcntl", "fstat",
			"lseek", "newfstatat", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2",
			"read", "readv", "sendfile", "splice", "statx", "tee", "write", "writev",
			// waiting
			"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
			"poll", "ppoll", "pselect6", "select",
			// in-process channels
			"eventfd", "eventfd2", "pipe", "pipe2", "signalfd", "signalfd4",
		},
		conds: append([]condRule{
			cloneThreadRule,
			{"personality", []specs.LinuxSeccompArg{eq(0, personaLinux)}, "PER_LINUX"},
			{"personality", []specs.LinuxSeccompArg{eq(0, personaQuery)}, "0xffffffff (query)"},
		}, ioctlRules(ioFIONREAD, ioFIONBIO, ioFIOCLEX, ioFIONCLEX, ioTCGETS, ioTIOCGWINSZ)...),
		enosys: []string{"clone3"},
	},
	{
		name:    "fs-read",
		summary: "open files read-only (openat with write flags is denied), stat, list directories, read links and xattrs; needed to load shared libraries",
		allow:   fsReadAllow,
		conds:   []condRule{openatReadRule, openReadRule},
		enosys:  []string{"openat2"},
	},
	{
		name:    "fs-write",
		summary: "everything in fs-read plus open for writing, create, rename, delete, link, chmod/chown, truncate, sync, xattrs",
		allow:   slices.Concat(fsReadAllow, fsWriteAllow),
	},
	{
		// Not in fs-read: every sandbox's user namespace is owned by host
		// root, so each inotify instance counts against root's
		// fs.inotify.max_user_instances (128 by default), shared by all
		// sandboxes and root's daemons. A limit set inside one sandbox's
		// user namespace bounds that sandbox only, not their sum.
		name:    "inotify",
		summary: "watch files and directories for changes (inotify); each instance counts against host root's fs.inotify.max_user_instances, shared by every sandbox and root's own daemons",
		allow:   []string{"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch"},
	},
	{
		name:    "process",
		summary: "start and manage child processes: fork/vfork/clone without namespace flags, execveat, wait, kill, sessions, pidfds",
		allow: []string{
			"execveat", "fork", "kill", "pidfd_open", "pidfd_send_signal", "rt_sigqueueinfo",
			"rt_tgsigqueueinfo", "setpgid", "setsid", "vfork", "wait4", "waitid",
		},
		conds: []condRule{cloneForkRule},
	},
	{
		name:    "threads",
		summary: "tune threads (base already creates them): affinity, priorities, scheduling policy, names via prctl, membarrier",
		allow: []string{
			"getpriority", "ioprio_get", "ioprio_set", "membarrier", "prctl", "sched_get_priority_max",
			"sched_get_priority_min", "sched_getattr", "sched_getparam", "sched_getscheduler",
			"sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
			"sched_setscheduler", "setpriority",
		},
	},
	{
		name:    "net-client",
		summary: "sockets in the families Network allows (AF_UNIX only for none): connect, send, receive, socket options",
		allow:   netClientAllow,
		socket:  true,
	},
	{
		name:    "net-server",
		summary: "everything in net-client plus bind, listen and accept",
		allow:   slices.Concat(netClientAllow, []string{"accept", "accept4", "bind", "listen"}),
		socket:  true,
	},
	{
		name:    "ipc",
		summary: "System V and POSIX shared memory, semaphores and message queues, memfd_create",
		allow: []string{
			"memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend",
			"mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop",
			"semtimedop", "shmat", "shmctl", "shmdt", "shmget",
		},
	},
	{
		name:    "time",
		summary: "timers: POSIX timers, timerfd, itimers and alarm (reading clocks and sleeping are in base; setting clocks never)",
		allow: []string{
			"alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
			"timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
		},
	},
	{
		name:    "tty",
		summary: "change an inherited terminal: ioctl TCSETS*, TIOCSWINSZ, TIOCGPGRP/TIOCSPGRP (never TIOCSTI or TIOCLINUX)",
		conds:   ioctlRules(ioTCSETS, ioTCSETSW, ioTCSETSF, ioTIOCSWINSZ, ioTIOCGPGRP, ioTIOCSPGRP),
	},
}

// deniedAlways lists the syscalls no group and no Extra may grant: they
// debug or read other processes, reach the kernel's keyrings, BPF, perf or
// io_uring (which bypasses seccomp), change mounts or namespaces, load
// kernel code, or change the host (time, hostname, swap, reboot).
var deniedAlways = []string{
	"_sysctl", "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime", "clock_settime",
	"create_module", "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup",
	"ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
	"modify_ldt", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "nfsservctl",
	"open_by_handle_at", "open_tree", "open_tree_attr", "perf_event_open", "pidfd_getfd",
	"pivot_root", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
	"query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "setdomainname",
	"sethostname", "setns", "settimeofday", "swapoff", "swapon", "syslog", "umount2", "unshare",
	"uselib", "userfaultfd", "vhangup",
}

// argFiltered are the syscalls only groups may grant, because their rules
// check arguments; Extra refuses them so an unconditional allow cannot
// undo an argument filter (ioctl TIOCSTI, clone CLONE_NEWUSER, ...).
var argFiltered = map[string]string{
	"clone":       `base allows threads, group "process" allows forks`,
	"clone3":      "it is always answered ENOSYS so libc falls back to clone",
	"ioctl":       `base allows harmless requests, group "tty" terminal changes`,
	"open":        `use group "fs-read" (read-only) or "fs-write"`,
	"openat":      `use group "fs-read" (read-only) or "fs-write"`,
	"openat2":     `use group "fs-write" (fs-read answers ENOSYS)`,
	"personality": "base allows the default persona and the query",
	"socket":      `use group "net-client" or "net-server" and set Network`,
}

var groupIndex = sync.OnceValue(func() map[string]*groupDef {
	m := make(map[string]*groupDef, len(groupDefs))
	for i := range groupDefs {
		m[groupDefs[i].name] = &groupDefs[i]
	}
	return m
})

func (g *groupDef) public() Group {
	names := map[string]bool{}
	cond := map[string]bool{}
	for _, n := range g.allow {
		names[n] = true
	}
	for _, c := range g.conds {
		names[c.name] = true
		cond[c.name] = true
	}
	for _, n := range g.enosys {
		names[n] = true
		cond[n] = true
	}
	if g.socket {
		names["socket"] = true
		cond["socket"] = true
	}
	for n := range cond {
		if slices.Contains(g.allow, n) {
			delete(cond, n)
		}
	}
	return Group{Name: g.name, Summary: g.summary, Syscalls: sortedKeys(names), Conditional: sortedKeys(cond)}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Groups returns every permission group, sorted by name.
func Groups() []Group {
	out := make([]Group, 0, len(groupDefs))
	for i := range groupDefs {
		out = append(out, groupDefs[i].public())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// GroupNames returns the names of every group, sorted.
func GroupNames() []string {
	out := make([]string, 0, len(groupDefs))
	for _, g := range groupDefs {
		out = append(out, g.name)
	}
	sort.Strings(out)
	return out
}

// LookupGroup returns the group called name, or an error naming the valid
// groups.
func LookupGroup(name string) (Group, error) {
	g, ok := groupIndex()[name]
	if !ok {
		return Group{}, fmt.Errorf("unknown syscall group %q: use one of %s", name, strings.Join(GroupNames(), ", "))
	}
	return g.public(), nil
}

// DeniedAlways returns, sorted, the syscalls that no group grants and that
// Generate refuses in Options.Extra.
func DeniedAlways() []string {
	return slices.Clone(deniedAlways)
}

// KnownSyscall reports whether name is a Linux syscall plugbox knows (on
// x86_64 or aarch64). Names outside this table are errors everywhere in
// this package.
func KnownSyscall(name string) bool {
	_, ok := syscallTable()[name]
	return ok
}
