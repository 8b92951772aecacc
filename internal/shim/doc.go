// Package shim is plugbox's exec shim: a static C program of a few
// kilobytes (src/shim.c, no libc, raw system calls) that libcontainer execs in
// place of the plugin, and the Go side that configures it.
//
// The shim applies the layers that must come last and that libcontainer does
// not offer, in this order: it resolves the plugin's executable (PATH from
// the process environment, absolute entries only), closes every descriptor
// but the ones the plugin keeps, applies Landlock (the best ABI the kernel
// has, scoping from ABI 6), sets process.rlimits, loads a ready seccomp BPF
// program (compiled once on the host by seccompgen), sets the process's
// capabilities when it loaded the filter without no_new_privs (holding
// CAP_SYS_ADMIN, see CAPS below) and execve's the plugin. Any failure prints one line on stderr naming the step and exits
// 127. Because rlimits are applied here and not by libcontainer, nothing
// but the plugin runs under them (a threaded runtime cannot start under
// RLIMIT_AS 1 GiB with a 9 GiB RLIMIT_STACK).
//
// # Getting into the container
//
// Executable returns the shim in a sealed memfd (mode 0111, sealed against
// writes, resizing and mode changes), created once per plugbox process. The
// backend passes it to libcontainer as an extra descriptor K and sets
// process.args to ["/proc/self/fd/K", "C"]: libcontainer's own LookPath and
// execve of args[0] run inside the container's mount namespace, where /proc
// is mounted. Nothing is mounted for it. The shim closes K (and everything
// else above the kept descriptors) before the plugin runs, so the plugin
// never holds it; because the file is not readable, the kernel makes the
// shim non-dumpable, and the shim says so itself with PR_SET_DUMPABLE, so a
// process already in the sandbox cannot reach its descriptors.
//
// # The configuration descriptor
//
// C is the number of a descriptor holding the configuration (ConfigFile:
// a sealed memfd). It is a header, the 8 bytes "PBSHIM01", followed by
// records. A record is a uint32 tag and a uint32 payload length, then the
// payload, padded with zero bytes to a multiple of 8; integers are in the
// host's byte order (the shim runs on the machine that wrote them). Tags:
//
//	0 END            no payload; the configuration ends here.
//	1 ARGV           the plugin's argv, each string NUL-terminated; argv[0]
//	                 is resolved as exec.LookPath would.
//	2 KEEP_FDS       uint32 n: descriptors 0..n-1 pass to the plugin (stdio
//	                 and --preserve-fds); every other one is closed.
//	3 MONITOR_FD     uint32: the socket to the monitor (SOCK_SEQPACKET), for
//	                 the listener handover; absent without a monitor.
//	4 RLIMIT         uint32 resource, uint32 0, uint64 soft, uint64 hard;
//	                 one record per process.rlimits entry.
//	5 LANDLOCK       uint64 handled_access_fs, uint64 scoped, uint32 flags
//	                 (bit 0: best effort, i.e. run without Landlock on a
//	                 kernel that has none), uint32 0. Rights and scopes the
//	                 kernel's ABI lacks are dropped.
//	6 LANDLOCK_PATH  uint64 access, then the NUL-terminated path. A path
//	                 that does not exist is skipped; on a file that is not
//	                 a directory only the file rights are kept.
//	7 SECCOMP        uint32 seccomp(2) filter flags, uint32 0, then the
//	                 program: struct sock_filter instructions (8 bytes each).
//	8 TRACE          uint32 descriptor, uint32 0: a file of one page the shim
//	                 maps shared and fills with 16-byte records (int64
//	                 CLOCK_MONOTONIC nanoseconds, uint32 stage, uint32 0) as
//	                 each step ends, for plugbox's start-up waterfall
//	                 (TraceFile, ReadTrace). The last record is written right
//	                 before the filter is loaded, so tracing adds no call
//	                 under the plugin's filter.
//	9 CAPS           uint64 effective, permitted, inheritable, bounding,
//	                 ambient: the capability sets (bit N is capability N)
//	                 the process ends with. Only with SECCOMP and no
//	                 listener: for a process without no_new_privs, which
//	                 can load the filter only holding CAP_SYS_ADMIN.
//	                 Before the filter the shim lowers the ambient and
//	                 bounding sets to these; after it, one capset(2) sets
//	                 the others (no set grows: what the process lacks
//	                 stays out).
//	10 BIND          uint64 inode, uint32 device major, uint32 minor, then
//	                 the NUL-terminated path of a bind mount inside the
//	                 container: before anything else, the shim checks that
//	                 the file there (not following a last symbolic link)
//	                 is that one, the host file create checked, and
//	                 otherwise fails: the mount was made from a path
//	                 swapped between the check and libcontainer's mount.
//
// The environment is not part of the configuration: the shim passes its
// own (the container's process.env, untouched) to the plugin.
//
// # The listener handover
//
// With SECCOMP_FILTER_FLAG_NEW_LISTENER in the SECCOMP flags the shim hands
// the listener to the monitor without a system call that the plugin's
// profile would have to allow for it:
//
//  1. Before loading the filter it sends, on MONITOR_FD, the 12 bytes
//     "PBLISTEN" and the uint32 number L the listener will get (the lowest
//     free descriptor). The monitor's end has SO_PASSCRED, so the kernel
//     attaches the shim's pid, translated into the monitor's pid namespace.
//  2. It loads the filter; the kernel returns the listener as L, O_CLOEXEC.
//  3. It waits in read(2) on MONITOR_FD. The monitor takes the listener with
//     pidfd_getfd(pidfd_open(pid), L) (monitor.AcquireListener) and writes
//     one byte.
//  4. It execve's the plugin; the listener and the socket close on exec.
//
// The read and the execve are the only calls the shim makes under the
// filter; the host checks, before the container starts, that the program
// allows both (read on MONITOR_FD), and refuses the start otherwise. With
// CAPS (never with a listener) the calls under the filter are capset(2)
// and the execve, checked the same way.
package shim
