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
	return [...]string{"unknown", "file", "directory", "pipe", "socket", "listening socket", "character device"}[k]
}

// AccessMode is the O_ACCMODE part of a descriptor's status flags.
type AccessMode int

// Access modes of a descriptor.
const (
	ReadOnly AccessMode = iota
	WriteOnly
	ReadWrite
)

// RightsFor returns the rights a pre-opened descriptor keeps in capability
// mode: read-only files may be read, seeked and fstat'ed; writable files
// may also be written and truncated; sockets may send, receive and query
// their options and addresses. Kinds plugbox cannot classify are refused,
// so an unexpected descriptor fails the start instead of keeping all rights.
func RightsFor(kind FDKind, mode AccessMode) (Rights, error) {
	read := mode == ReadOnly || mode == ReadWrite
	write := mode == WriteOnly || mode == ReadWrite
	var rs []Right
	add := func(cond bool, r ...Right) {
		if cond {
			rs = append(rs, r...)
		}
	}
	switch kind {
	case FDFile:
		add(true, CapSeek, CapFstat)
		add(read, CapRead)
		add(write, CapWrite, CapFtruncate, CapFsync)
	case FDDir:
		if write {
			return Rights{}, fmt.Errorf("descriptor is a directory opened for writing; pass directories read-only")
		}
		rs = []Right{CapRead, CapSeek, CapFstat, CapLookup, CapFstatat, CapFstatfs}
	case FDPipe, FDCharDev:
		add(true, CapFstat, CapEvent)
		add(read, CapRead)
		add(write, CapWrite)
	case FDSocket:
		rs = []Right{CapRecv, CapSend, CapEvent, CapFstat, CapGetpeername, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown}
	case FDListener:
		rs = []Right{CapAccept, CapEvent, CapFstat, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown}
	default:
		return Rights{}, fmt.Errorf("descriptor of kind %s cannot be limited; close it or pass a file, pipe or socket", kind)
	}
	return NewRights(rs...)
}

// LibDirRights are the rights of a library directory descriptor listed in
// LD_LIBRARY_PATH_FDS: rtld looks libraries up through it and maps them
// executable, and a file opened with openat(2) inherits these rights.
func LibDirRights() (Rights, error) {
	return NewRights(CapLookup, CapRead, CapSeek, CapFstat, CapFstatat, CapFstatfs, CapMmapRX, CapFcntl)
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
