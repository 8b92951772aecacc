package jail

import (
	"encoding/binary"
	"fmt"
)

// Layout of struct kinfo_file (sys/user.h, FreeBSD 14) as fcntl(F_KINFO)
// fills it on LP64: KINFO_FILE_SIZE and the offsets of the fields read.
// kf_structsize, kf_type, kf_fd, kf_ref_count and kf_flags are the first
// five ints; kf_pad0 rounds to 8 for the int64 kf_offset at 24; the union
// kf_un starts at 32 with kf_file.kf_file_type (the vnode type; for
// sockets kf_sock_sendq) and, for sockets, kf_sock_domain0,
// kf_sock_type0 and kf_sock_protocol0 at 36, 40 and 44.
const (
	KinfoFileSize     = 1392 // KINFO_FILE_SIZE
	kfTypeOff         = 4    // kf_type
	kfFlagsOff        = 16   // kf_flags
	kfFileTypeOff     = 32   // kf_un.kf_file.kf_file_type
	kfSockDomainOff   = 36   // kf_un.kf_sock.kf_sock_domain0
	kfSockTypeOff     = 40   // kf_un.kf_sock.kf_sock_type0
	kfSockProtocolOff = 44   // kf_un.kf_sock.kf_sock_protocol0
)

// Descriptor types, kf_type (KF_TYPE_* in sys/user.h).
const (
	KFTypeNone     = 0
	KFTypeVnode    = 1
	KFTypeSocket   = 2
	KFTypePipe     = 3
	KFTypeFifo     = 4
	KFTypeKqueue   = 5
	KFTypeMqueue   = 7
	KFTypeShm      = 8
	KFTypeSem      = 9
	KFTypePts      = 10
	KFTypeProcdesc = 11
	KFTypeDev      = 12
	KFTypeEventfd  = 13
	KFTypeUnknown  = 255
)

// Vnode types, kf_file_type (KF_VTYPE_*).
const (
	KFVtypeVnon  = 0
	KFVtypeVreg  = 1
	KFVtypeVdir  = 2
	KFVtypeVblk  = 3
	KFVtypeVchr  = 4
	KFVtypeVlnk  = 5
	KFVtypeVsock = 6
	KFVtypeVfifo = 7
)

// FileInfo is the part of struct kinfo_file plugbox uses to decide which
// Capsicum rights a descriptor keeps.
type FileInfo struct {
	Type      int // kf_type
	VnodeType int // kf_file_type, for KFTypeVnode
	Flags     int // kf_flags (KF_FLAG_READ, ...)
}

// ParseKinfoFile decodes the struct kinfo_file fcntl(F_KINFO) wrote into
// buf, which the caller passed with kf_structsize = KinfoFileSize.
func ParseKinfoFile(buf []byte) (FileInfo, error) {
	if len(buf) < KinfoFileSize {
		return FileInfo{}, fmt.Errorf("kinfo_file: %d bytes, want %d", len(buf), KinfoFileSize)
	}
	size := int(int32(binary.NativeEndian.Uint32(buf)))
	if size != KinfoFileSize {
		return FileInfo{}, fmt.Errorf("kinfo_file: kf_structsize %d, want %d (unsupported architecture or ABI)", size, KinfoFileSize)
	}
	fi := FileInfo{
		Type:  int(int32(binary.NativeEndian.Uint32(buf[kfTypeOff:]))),
		Flags: int(int32(binary.NativeEndian.Uint32(buf[kfFlagsOff:]))),
	}
	if fi.Type == KFTypeVnode {
		fi.VnodeType = int(int32(binary.NativeEndian.Uint32(buf[kfFileTypeOff:])))
	}
	return fi, nil
}

// KinfoFileRequest returns the buffer to pass to fcntl(F_KINFO): zeroed,
// with kf_structsize set as the kernel requires.
func KinfoFileRequest() []byte {
	buf := make([]byte, KinfoFileSize)
	binary.NativeEndian.PutUint32(buf, KinfoFileSize)
	return buf
}

// Classify maps what F_KINFO reports of a descriptor (and, for a socket,
// whether it listens) to the kind LimitsFor limits; a terminal or device
// is a character device whether the kernel reports its vnode (VCHR), a
// pseudo-terminal or a device with its own file operations. A kqueue reports
// st_mode S_IFIFO to fstat(2) (kqueue_stat) but is KF_TYPE_KQUEUE here,
// so it is not mistaken for a pipe; kinds plugbox cannot limit safely
// (kqueue, process descriptors, shared memory, eventfd, mqueues,
// semaphores, block devices) come back FDUnknown, which LimitsFor refuses,
// as it refuses directories.
func Classify(fi FileInfo, listening bool) FDKind {
	switch fi.Type {
	case KFTypeVnode:
		switch fi.VnodeType {
		case KFVtypeVreg:
			return FDFile
		case KFVtypeVdir:
			return FDDir
		case KFVtypeVchr:
			return FDCharDev
		case KFVtypeVfifo:
			return FDPipe
		}
	case KFTypePipe, KFTypeFifo:
		return FDPipe
	case KFTypePts, KFTypeDev:
		return FDCharDev
	case KFTypeSocket:
		if listening {
			return FDListener
		}
		return FDSocket
	}
	return FDUnknown
}

// TypeName names kf_type for messages.
func (fi FileInfo) TypeName() string {
	switch fi.Type {
	case KFTypeVnode:
		switch fi.VnodeType {
		case KFVtypeVreg:
			return "regular file"
		case KFVtypeVdir:
			return "directory"
		case KFVtypeVchr:
			return "character device"
		case KFVtypeVfifo:
			return "FIFO"
		case KFVtypeVsock:
			return "socket file"
		case KFVtypeVblk:
			return "block device"
		}
		return fmt.Sprintf("vnode of type %d", fi.VnodeType)
	case KFTypeSocket:
		return "socket"
	case KFTypePipe:
		return "pipe"
	case KFTypeFifo:
		return "FIFO"
	case KFTypeKqueue:
		return "kqueue"
	case KFTypeMqueue:
		return "POSIX message queue"
	case KFTypeShm:
		return "shared memory object"
	case KFTypeSem:
		return "POSIX semaphore"
	case KFTypePts:
		return "pseudo-terminal"
	case KFTypeProcdesc:
		return "process descriptor"
	case KFTypeDev:
		return "device"
	case KFTypeEventfd:
		return "eventfd"
	}
	return fmt.Sprintf("descriptor of type %d", fi.Type)
}

// AccessModeOf returns the O_ACCMODE part of F_GETFL status flags.
func AccessModeOf(status int) AccessMode {
	switch status & OAccmode {
	case OWronly:
		return WriteOnly
	case ORdwr:
		return ReadWrite
	}
	return ReadOnly
}
