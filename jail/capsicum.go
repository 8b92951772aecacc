package jail

import (
	"fmt"
	"strings"
)

// Rights is a cap_rights_t (sys/capsicum.h, version CAP_RIGHTS_VERSION_00):
// two 64-bit words. Bits 57.. of each word say which word a right lives in
// (CAPRIGHT(idx, bit) = 1<<(57+idx) | bit), and the top two bits of word 0
// hold the structure version.
type Rights [2]uint64

// Right is one capability right as sys/capsicum.h encodes it.
type Right uint64

// capRightsVersion is CAP_RIGHTS_VERSION_00; the array has version+2 words.
const capRightsVersion = 0

func capright(idx uint, bit uint64) Right { return Right(1<<(57+idx) | bit) }

// The rights plugbox grants, with the values of sys/capsicum.h.
var (
	CapRead        = capright(0, 0x0000000000000001)
	CapWrite       = capright(0, 0x0000000000000002)
	CapSeekTell    = capright(0, 0x0000000000000004)
	CapSeek        = CapSeekTell | capright(0, 0x0000000000000008)
	CapMmap        = capright(0, 0x0000000000000010)
	CapMmapX       = CapMmap | CapSeek | capright(0, 0x0000000000000020)
	CapMmapR       = CapMmap | CapSeek | CapRead
	CapMmapW       = CapMmap | CapSeek | CapWrite
	CapMmapRX      = CapMmapR | CapMmapX
	CapFexecve     = capright(0, 0x0000000000000080)
	CapFsync       = capright(0, 0x0000000000000100)
	CapFtruncate   = capright(0, 0x0000000000000200)
	CapLookup      = capright(0, 0x0000000000000400)
	CapFchdir      = capright(0, 0x0000000000000800)
	CapFcntl       = capright(0, 0x0000000000008000)
	CapFstat       = capright(0, 0x0000000000080000)
	CapFstatat     = CapFstat | CapLookup
	CapFstatfs     = capright(0, 0x0000000000100000)
	CapAccept      = capright(0, 0x0000000020000000)
	CapGetpeername = capright(0, 0x0000000100000000)
	CapGetsockname = capright(0, 0x0000000200000000)
	CapGetsockopt  = capright(0, 0x0000000400000000)
	CapSetsockopt  = capright(0, 0x0000002000000000)
	CapShutdown    = capright(0, 0x0000004000000000)
	CapRecv        = CapRead
	CapSend        = CapWrite
	CapEvent       = capright(1, 0x0000000000000020)
)

// index returns the word a right lives in: bit 57 → word 0, bit 58 → word 1
// (sys/capsicum.h CAPIDXBIT and the bit2idx table of subr_capability.c).
func (r Right) index() (int, error) {
	switch (uint64(r) >> 57) & 0x1f {
	case 1:
		return 0, nil
	case 2:
		return 1, nil
	}
	return 0, fmt.Errorf("capability right %#x has no valid index bits", uint64(r))
}

// NewRights returns an initialised cap_rights_t holding rights, like
// cap_rights_init(3).
func NewRights(rights ...Right) (Rights, error) {
	r := Rights{uint64(capRightsVersion)<<62 | uint64(capright(0, 0)), uint64(capright(1, 0))}
	for _, x := range rights {
		i, err := x.index()
		if err != nil {
			return Rights{}, err
		}
		r[i] |= uint64(x)
	}
	return r, nil
}

// Has reports whether every right in want is set in r.
func (r Rights) Has(want ...Right) bool {
	for _, x := range want {
		i, err := x.index()
		if err != nil || r[i]&uint64(x) != uint64(x) {
			return false
		}
	}
	return true
}

// FDKind is what a descriptor the plugin inherits refers to.
type FDKind int

// Descriptor kinds plugbox knows how to limit.
const (
	FDUnknown  FDKind = iota
	FDFile            // regular file
	FDDir             // directory
	FDPipe            // pipe or FIFO
	FDSocket          // connected or unconnected socket
	FDListener        // listening socket
	FDCharDev         // character device (tty, /dev/null)
)

func (k FDKind) String() string {
	names := [...]string{"unknown", "file", "directory", "pipe", "socket", "listening socket", "character device"}
	if k < 0 || int(k) >= len(names) {
		return fmt.Sprintf("FDKind(%d)", int(k))
	}
	return names[k]
}

// AccessMode is the O_ACCMODE part of a descriptor's status flags.
type AccessMode int

// Access modes of a descriptor.
const (
	ReadOnly AccessMode = iota
	WriteOnly
	ReadWrite
)

// Fcntl commands a descriptor with CAP_FCNTL may still run once
// cap_fcntls_limit(2) narrows it (CAP_FCNTL_* in sys/capsicum.h: one bit
// per command number).
const (
	CapFcntlGetfl  uint32 = 1 << 3 // CAP_FCNTL_GETFL (F_GETFL = 3)
	CapFcntlSetfl  uint32 = 1 << 4 // CAP_FCNTL_SETFL (F_SETFL = 4)
	CapFcntlGetown uint32 = 1 << 5 // CAP_FCNTL_GETOWN
	CapFcntlSetown uint32 = 1 << 6 // CAP_FCNTL_SETOWN
)

// ioctl request numbers (sys/ioccom.h): direction in the top bits, the
// parameter length in bits 16..28, the group letter and the number.
const (
	iocOut = 0x40000000 // IOC_OUT: the kernel copies the parameter out
	iocIn  = 0x80000000 // IOC_IN: the caller passes it in
)

func ioc(dir uint64, group byte, num uint8, length uint64) uint64 {
	return dir | (length&0x1fff)<<16 | uint64(group)<<8 | uint64(num)
}

// The ioctls inherited descriptors may keep (cap_ioctls_limit(2)).
var (
	// FIONBIO is _IOW('f', 126, int): set or clear non-blocking mode.
	FIONBIO = ioc(iocIn, 'f', 126, 4)
	// FIONREAD is _IOR('f', 127, int): bytes ready to read.
	FIONREAD = ioc(iocOut, 'f', 127, 4)
	// TIOCGETA is _IOR('t', 19, struct termios) (44 bytes): what
	// isatty(3) and tcgetattr(3) call.
	TIOCGETA = ioc(iocOut, 't', 19, 44)
)

// CapIoctl is CAP_IOCTL, needed for any ioctl(2).
var CapIoctl = capright(1, 0x0000000000000080)

// FDLimits is what a descriptor keeps in capability mode: its rights and,
// since CAP_FCNTL and CAP_IOCTL would otherwise allow every command, the
// fcntl commands and ioctls they are narrowed to.
type FDLimits struct {
	Rights Rights
	// Fcntls is the cap_fcntls_limit(2) mask; meaningful with CAP_FCNTL.
	Fcntls uint32
	// Ioctls is the cap_ioctls_limit(2) list; nil means no CAP_IOCTL.
	Ioctls []uint64
}

// LimitsFor returns the limits of a pre-opened descriptor of kind, opened
// with mode, in capability mode:
//
//   - files may be read (and mmapped for reading), or written, truncated
//     and synced, seeked, fstat'ed and watched with kqueue;
//   - pipes, FIFOs and character devices (ttys, /dev/null) may be read or
//     written as opened, fstat'ed and watched, and a tty answers
//     TIOCGETA so isatty(3) works;
//   - sockets may send, receive, shut down and query their options and
//     addresses; listening sockets may also accept, and since accept(2)
//     gives the new connection the listener's rights (kern_accept4,
//     falloc_caps), they carry the connected-socket rights too;
//   - every kind keeps CAP_FCNTL narrowed to F_GETFL/F_SETFL, and streams
//     keep FIONBIO and FIONREAD, so O_NONBLOCK can be set: event loops,
//     Go's net.FileListener and os.NewFile (F_GETFL) and fdopen(3) need it.
//
// Directories are refused (a directory descriptor reaches every file below
// it), and so are kinds plugbox cannot limit, so an unexpected descriptor
// fails the start instead of keeping all rights.
func LimitsFor(kind FDKind, mode AccessMode) (FDLimits, error) {
	read := mode == ReadOnly || mode == ReadWrite
	write := mode == WriteOnly || mode == ReadWrite
	var rs []Right
	add := func(cond bool, r ...Right) {
		if cond {
			rs = append(rs, r...)
		}
	}
	l := FDLimits{Fcntls: CapFcntlGetfl | CapFcntlSetfl}
	stream := []uint64{FIONBIO, FIONREAD}
	switch kind {
	case FDFile:
		add(true, CapSeek, CapFstat, CapFcntl, CapEvent)
		add(read, CapRead, CapMmapR)
		add(write, CapWrite, CapFtruncate, CapFsync, CapMmapW)
	case FDPipe:
		add(true, CapFstat, CapEvent, CapFcntl, CapIoctl)
		add(read, CapRead)
		add(write, CapWrite)
		l.Ioctls = stream
	case FDCharDev:
		add(true, CapFstat, CapEvent, CapFcntl, CapIoctl)
		add(read, CapRead)
		add(write, CapWrite)
		l.Ioctls = append(stream, TIOCGETA)
	case FDSocket, FDListener:
		rs = []Right{CapRecv, CapSend, CapEvent, CapFstat, CapFcntl, CapIoctl, CapGetpeername, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown}
		add(kind == FDListener, CapAccept)
		l.Ioctls = stream
	case FDDir:
		return FDLimits{}, fmt.Errorf("descriptor is a directory, which would give the plugin every file below it; pass files, pipes or sockets, or bind the directory into the container")
	default:
		return FDLimits{}, fmt.Errorf("descriptor of kind %s cannot be limited; close it or pass a file, pipe or socket", kind)
	}
	r, err := NewRights(rs...)
	if err != nil {
		return FDLimits{}, err
	}
	l.Rights = r
	return l, nil
}

// LibDirRights are the rights of a library directory descriptor listed in
// LD_LIBRARY_PATH_FDS: rtld opens libraries through it
// (search_library_pathfds: openat, which needs LOOKUP and READ), fstats
// and fstatfs'es them and maps them executable; a file opened with openat
// inherits these rights, so nothing here allows writing.
func LibDirRights() (Rights, error) {
	return NewRights(CapLookup, CapRead, CapFstat, CapFstatfs, CapMmapRX)
}

// ExecRights are the rights of the descriptor of the program fexecve(2)
// runs (and rtld maps when it is dynamically linked).
func ExecRights() (Rights, error) {
	return NewRights(CapFexecve, CapRead, CapSeek, CapFstat, CapMmapRX)
}

// LibraryPathFDs formats fds as the value of LD_LIBRARY_PATH_FDS.
func LibraryPathFDs(fds []int) string {
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = fmt.Sprint(fd)
	}
	return strings.Join(s, ":")
}
