package monitor

import (
	"fmt"
	"strings"
)

// The Linux constants below are spelled out (not taken from x/sys/unix)
// so the log reader builds, and decodes Linux logs, on every OS. Where
// x86_64 and aarch64 differ (a few open flags), both tables are here.

// argDecoder names argument Index of a call and renders its value.
type argDecoder struct {
	index  int
	key    string
	render func(v uint64, arch string) string
}

// decoders are the arguments worth a name in a violation record: what was
// asked for (a socket family, the open or clone flags, an ioctl request),
// by call.
var decoders = map[string][]argDecoder{
	"socket":      {{0, "family", family}, {1, "type", sockType}, {2, "protocol", protocol}},
	"socketpair":  {{0, "family", family}, {1, "type", sockType}},
	"open":        {{1, "flags", openFlags}, {2, "mode", mode}},
	"openat":      {{0, "dirfd", dirfd}, {2, "flags", openFlags}, {3, "mode", mode}},
	"creat":       {{1, "mode", mode}},
	"clone":       {{0, "flags", cloneFlags}},
	"unshare":     {{0, "flags", cloneFlags}},
	"setns":       {{1, "nstype", cloneFlags}},
	"ioctl":       {{1, "request", ioctlRequest}},
	"personality": {{0, "persona", persona}},
	"kill":        {{1, "sig", signalName}},
	"tkill":       {{1, "sig", signalName}},
	"tgkill":      {{2, "sig", signalName}},
}

// DecodeArgs names the arguments of call name that matter (nil for calls
// with none): keyed by the argument's name in the man page, e.g.
// {"family": "AF_INET", "type": "SOCK_STREAM|SOCK_CLOEXEC",
// "protocol": "IPPROTO_TCP"}. arch is the event's ("amd64", "arm64").
func DecodeArgs(name, arch string, args []uint64) map[string]string {
	ds := decoders[name]
	if len(ds) == 0 {
		return nil
	}
	out := make(map[string]string, len(ds))
	for _, d := range ds {
		out[d.key] = d.render(arg(args, d.index), arch)
	}
	return out
}

// callText renders a call as name(arg0, ..., arg5), the arguments
// DecodeArgs names in words and the others in hex.
func callText(name, arch string, args []uint64) string {
	parts := make([]string, 6)
	for i := range parts {
		parts[i] = fmt.Sprintf("%#x", arg(args, i))
	}
	for _, d := range decoders[name] {
		parts[d.index] = d.render(arg(args, d.index), arch)
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

type bitName struct {
	bit  uint64
	name string
}

// flagText renders the set bits of v by name, leftover bits in hex.
func flagText(v uint64, names []bitName) string {
	var parts []string
	for _, n := range names {
		if v&n.bit == n.bit && n.bit != 0 {
			parts = append(parts, n.name)
			v &^= n.bit
		}
	}
	if v != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	return strings.Join(parts, "|")
}

var familyNames = map[uint64]string{
	0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 6: "AF_NETROM",
	7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE", 12: "AF_DECnet", 13: "AF_NETBEUI",
	14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK", 17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET",
	20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA", 23: "AF_IRDA", 24: "AF_PPPOX", 25: "AF_WANPIPE", 26: "AF_LLC",
	27: "AF_IB", 28: "AF_MPLS", 29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC",
	34: "AF_ISDN", 35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK",
	41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP", 45: "AF_MCTP",
}

func family(v uint64, _ string) string {
	if n, ok := familyNames[uint64(uint32(v))]; ok {
		return n
	}
	return fmt.Sprintf("%#x", v)
}

var sockTypes = map[uint64]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}

func sockType(v uint64, _ string) string {
	v = uint64(uint32(v))
	base := sockTypes[v&0xf]
	if base == "" {
		base = fmt.Sprintf("%#x", v&0xf)
	}
	rest := v &^ 0xf
	if rest == 0 {
		return base
	}
	return base + "|" + flagText(rest, []bitName{{0x800, "SOCK_NONBLOCK"}, {0x80000, "SOCK_CLOEXEC"}})
}

var protocols = map[uint64]string{0: "0", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 255: "IPPROTO_RAW"}

func protocol(v uint64, _ string) string {
	if n, ok := protocols[v]; ok {
		return n
	}
	return fmt.Sprintf("%#x", v)
}

// open(2)'s flags beyond the access mode, composites first (O_TMPFILE
// includes O_DIRECTORY, O_SYNC includes O_DSYNC); x86_64 and aarch64
// number O_DIRECT, O_LARGEFILE, O_DIRECTORY and O_NOFOLLOW differently.
var (
	openFlagsCommon = []bitName{
		{0x40, "O_CREAT"}, {0x80, "O_EXCL"}, {0x100, "O_NOCTTY"}, {0x200, "O_TRUNC"}, {0x400, "O_APPEND"},
		{0x800, "O_NONBLOCK"}, {0x2000, "O_ASYNC"}, {0x40000, "O_NOATIME"}, {0x80000, "O_CLOEXEC"}, {0x200000, "O_PATH"},
	}
	openFlagsX86 = append([]bitName{
		{0x410000, "O_TMPFILE"}, {0x101000, "O_SYNC"}, {0x1000, "O_DSYNC"},
		{0x4000, "O_DIRECT"}, {0x8000, "O_LARGEFILE"}, {0x10000, "O_DIRECTORY"}, {0x20000, "O_NOFOLLOW"},
	}, openFlagsCommon...)
	openFlagsArm64 = append([]bitName{
		{0x404000, "O_TMPFILE"}, {0x101000, "O_SYNC"}, {0x1000, "O_DSYNC"},
		{0x10000, "O_DIRECT"}, {0x20000, "O_LARGEFILE"}, {0x4000, "O_DIRECTORY"}, {0x8000, "O_NOFOLLOW"},
	}, openFlagsCommon...)
)

func openFlags(v uint64, arch string) string {
	v = uint64(uint32(v))
	access := [4]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"}[v&3]
	rest := v &^ 3
	if rest == 0 {
		return access
	}
	table := openFlagsX86
	if arch == "arm64" {
		table = openFlagsArm64
	}
	return access + "|" + flagText(rest, table)
}

func mode(v uint64, _ string) string { return fmt.Sprintf("0%o", v) }

func dirfd(v uint64, _ string) string {
	if int32(uint32(v)) == -100 {
		return "AT_FDCWD"
	}
	return fmt.Sprintf("%d", int32(uint32(v)))
}

var cloneFlagTable = []bitName{
	{0x100, "CLONE_VM"}, {0x200, "CLONE_FS"}, {0x400, "CLONE_FILES"}, {0x800, "CLONE_SIGHAND"},
	{0x1000, "CLONE_PIDFD"}, {0x2000, "CLONE_PTRACE"}, {0x4000, "CLONE_VFORK"}, {0x8000, "CLONE_PARENT"},
	{0x10000, "CLONE_THREAD"}, {0x20000, "CLONE_NEWNS"}, {0x40000, "CLONE_SYSVSEM"}, {0x80000, "CLONE_SETTLS"},
	{0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"}, {0x400000, "CLONE_DETACHED"},
	{0x800000, "CLONE_UNTRACED"}, {0x1000000, "CLONE_CHILD_SETTID"}, {0x2000000, "CLONE_NEWCGROUP"},
	{0x4000000, "CLONE_NEWUTS"}, {0x8000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"},
	{0x20000000, "CLONE_NEWPID"}, {0x40000000, "CLONE_NEWNET"}, {0x80000000, "CLONE_IO"},
}

// cloneFlags renders clone's flags; the low byte is the exit signal.
func cloneFlags(v uint64, arch string) string {
	sig := v & 0xff
	rest := v &^ 0xff
	var parts []string
	if rest != 0 {
		parts = append(parts, flagText(rest, cloneFlagTable))
	}
	if sig != 0 {
		parts = append(parts, signalName(sig, arch))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

var signalNames = map[uint64]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
	9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
	16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
	23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
	30: "SIGPWR", 31: "SIGSYS",
}

func signalName(v uint64, _ string) string {
	if n, ok := signalNames[v]; ok {
		return n
	}
	return fmt.Sprintf("%d", v)
}

var ioctlNames = map[uint64]string{
	0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF", 0x5409: "TCSBRK", 0x540A: "TCXONC",
	0x540B: "TCFLSH", 0x540C: "TIOCEXCL", 0x540D: "TIOCNXCL", 0x540E: "TIOCSCTTY", 0x540F: "TIOCGPGRP",
	0x5410: "TIOCSPGRP", 0x5411: "TIOCOUTQ", 0x5412: "TIOCSTI", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ",
	0x5415: "TIOCMGET", 0x541B: "FIONREAD", 0x541C: "TIOCLINUX", 0x5421: "FIONBIO", 0x5422: "TIOCNOTTY",
	0x5423: "TIOCSETD", 0x5424: "TIOCGETD", 0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX",
	0x5452: "FIOASYNC", 0x80045430: "TIOCGPTN", 0x40045431: "TIOCSPTLCK", 0x8912: "SIOCGIFCONF",
	0x8913: "SIOCGIFFLAGS", 0x8914: "SIOCSIFFLAGS", 0x8915: "SIOCGIFADDR", 0x8927: "SIOCGIFHWADDR",
	0x8933: "SIOCGIFINDEX", 0x40049409: "FICLONE", 0x80086601: "FS_IOC_GETFLAGS", 0x40086602: "FS_IOC_SETFLAGS",
}

// ioctlRequest names a request as the kernel reads it (32 bits).
func ioctlRequest(v uint64, _ string) string {
	if n, ok := ioctlNames[uint64(uint32(v))]; ok {
		if v>>32 != 0 {
			return fmt.Sprintf("%s (%#x)", n, v)
		}
		return n
	}
	return fmt.Sprintf("%#x", v)
}

var personaFlags = []bitName{
	{0x0020000, "UNAME26"}, {0x0040000, "ADDR_NO_RANDOMIZE"}, {0x0080000, "FDPIC_FUNCPTRS"},
	{0x0100000, "MMAP_PAGE_ZERO"}, {0x0200000, "ADDR_COMPAT_LAYOUT"}, {0x0400000, "READ_IMPLIES_EXEC"},
	{0x0800000, "ADDR_LIMIT_32BIT"}, {0x1000000, "SHORT_INODE"}, {0x2000000, "WHOLE_SECONDS"},
	{0x4000000, "STICKY_TIMEOUTS"}, {0x8000000, "ADDR_LIMIT_3GB"},
}

func persona(v uint64, _ string) string {
	switch uint32(v) {
	case 0xffffffff:
		return "0xffffffff (query)"
	case 0:
		return "PER_LINUX"
	}
	base := v & 0xff
	var parts []string
	if base == 0 {
		parts = append(parts, "PER_LINUX")
	} else {
		parts = append(parts, fmt.Sprintf("persona %#x", base))
	}
	if rest := v &^ 0xff; rest != 0 {
		parts = append(parts, flagText(rest, personaFlags))
	}
	return strings.Join(parts, "|")
}
