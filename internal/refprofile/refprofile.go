//go:build linux && cgo

// Package refprofile builds the reference seccomp profile that plugbox's
// benchmarks compare runtimes with: the shape and size of the default
// profile container engines ship (a default-deny list allowing some 300
// calls by name, argument rules for socket, personality and clone, clone3
// answered ENOSYS), written here from the calls libseccomp knows, so the
// bench needs nothing from outside the repository. It is a benchmark
// workload, not a policy: plugbox's own profiles come from seccompgen.
package refprofile

import (
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// denied are left out of the allow list: calls that need privileges the
// container does not have or that widen the kernel surface (modules,
// mounts, namespaces, keyrings, tracing other processes, clocks, swap).
var denied = map[string]bool{
	"acct": true, "add_key": true, "bpf": true, "clock_adjtime": true, "clock_settime": true,
	"create_module": true, "delete_module": true, "finit_module": true, "fsconfig": true,
	"fsmount": true, "fsopen": true, "fspick": true, "get_kernel_syms": true, "get_mempolicy": true,
	"init_module": true, "ioperm": true, "iopl": true, "kcmp": true, "kexec_file_load": true,
	"kexec_load": true, "keyctl": true, "lookup_dcookie": true, "mbind": true, "migrate_pages": true,
	"mount": true, "mount_setattr": true, "move_mount": true, "move_pages": true,
	"name_to_handle_at": true, "nfsservctl": true, "open_by_handle_at": true, "open_tree": true,
	"perf_event_open": true, "pivot_root": true, "process_vm_readv": true, "process_vm_writev": true,
	"ptrace": true, "query_module": true, "quotactl": true, "quotactl_fd": true, "reboot": true,
	"request_key": true, "set_mempolicy": true, "set_mempolicy_home_node": true, "setdomainname": true,
	"sethostname": true, "setns": true, "settimeofday": true, "stime": true, "swapoff": true,
	"swapon": true, "syslog": true, "_sysctl": true, "sysfs": true, "umount": true, "umount2": true,
	"unshare": true, "uselib": true, "userfaultfd": true, "ustat": true, "vhangup": true, "vm86": true,
	"vm86old": true, "afs_syscall": true, "tuxcall": true, "security": true, "putpmsg": true,
	"getpmsg": true, "epoll_ctl_old": true, "epoll_wait_old": true, "lsm_set_self_attr": true,
	// These get argument rules below.
	"socket": true, "personality": true, "clone": true, "clone3": true,
}

// Profile returns the reference profile for the native architecture.
func Profile() (*specs.LinuxSeccomp, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, err
	}
	var names []string
	for nr := 0; nr < 1024; nr++ {
		name, err := libseccomp.ScmpSyscall(nr).GetNameByArch(native)
		if err == nil && name != "" && !denied[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	enosys := uint(unix.ENOSYS)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: architectures(),
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
	}
	// socket: one rule per address family a program may use.
	for family := uint64(1); family <= 25; family++ {
		p.Syscalls = append(p.Syscalls, argRule("socket", 0, family, specs.OpEqualTo))
	}
	// personality: the queries and the few personas programs set.
	for _, persona := range []uint64{0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, argRule("personality", 0, persona, specs.OpEqualTo))
	}
	// clone: threads and processes, no new namespaces.
	const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
		unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: namespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}})
	// clone3's flags are in memory a filter cannot read: ENOSYS makes libc
	// fall back to clone.
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	return p, nil
}

func argRule(name string, index uint, value uint64, op specs.LinuxSeccompOperator) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: index, Value: value, Op: op}}}
}

func architectures() []specs.Arch {
	if runtime.GOARCH == "arm64" {
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
}
