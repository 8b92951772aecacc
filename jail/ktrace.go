package jail

//go:generate go run gen_sysnames.go

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// ktrace(2) operations and trace points (sys/ktrace.h).
const (
	KtropSet       = 0          // KTROP_SET
	KtropClear     = 1          // KTROP_CLEAR
	KtrfacNamei    = 1 << 3     // KTRFAC_NAMEI: every path looked up
	KtrfacCapfail  = 1 << 12    // KTRFAC_CAPFAIL: capability violations
	KtrfacInherit  = 0x40000000 // KTRFAC_INHERIT: children are traced too
	ktrNamei       = 3          // KTR_NAMEI
	ktrCapfail     = 12         // KTR_CAPFAIL
	ktrDrop        = 0x8000     // KTR_DROP: records were lost before this one
	ktrVersioned   = 0x4000     // KTR_VERSIONED: a struct ktr_header, not _v0
	ktrVersion1    = 1          // KTR_VERSION1
	maxComLen      = 19         // MAXCOMLEN
	headerV0Size   = 56         // sizeof(struct ktr_header_v0) on LP64
	headerV1Size   = 64         // sizeof(struct ktr_header) on LP64
	capFailOldSize = 40         // struct ktr_cap_fail of FreeBSD 14.0
	capFailNewSize = 1040       // struct ktr_cap_fail with union ktr_cap_data
	maxPathLen     = 1024       // MAXPATHLEN
)

// The kinds of capability violation (enum ktr_cap_violation). FreeBSD 14.0
// has the first four, with 3 meaning CAPFAIL_LOOKUP; later kernels record
// the rest and report violations of processes that are not in capability
// mode (what plugbox trace relies on).
const (
	CapfailNotCapable = 0 // insufficient rights on a descriptor
	CapfailIncrease   = 1 // attempt to raise a descriptor's rights
	CapfailSyscall    = 2 // system call not allowed in capability mode
	CapfailSignal     = 3 // signal to another process (CAPFAIL_LOOKUP in 14.0)
	CapfailProto      = 4 // socket protocol not allowed
	CapfailSockaddr   = 5 // address given to connect, bind or sendto
	CapfailNamei      = 6 // absolute path, AT_FDCWD or ".." lookup
	CapfailCPUSet     = 7 // cpuset change of another process
)

// Violation is one call that fails (or, when traced outside capability
// mode, would fail) in Capsicum capability mode.
type Violation struct {
	Time time.Time `json:"time"`
	Pid  int       `json:"pid"`
	Tid  int64     `json:"tid"`
	Comm string    `json:"comm"`
	// Kind says what was not allowed: "syscall", "path", "rights",
	// "rights-increase", "signal", "protocol", "address", "cpuset".
	Kind string `json:"kind"`
	// Syscall names the system call, when the kernel records it.
	Syscall string `json:"syscall,omitempty"`
	// Path is the path looked up, or "AT_FDCWD" for a lookup relative to
	// the working directory.
	Path string `json:"path,omitempty"`
	// Needed and Held are the rights, for rights violations.
	Needed []string `json:"needed,omitempty"`
	Held   []string `json:"held,omitempty"`
	// Value is the signal, protocol or fcntl command, when there is one.
	Value *int `json:"value,omitempty"`
	// Address is the socket address given, for address violations.
	Address string `json:"address,omitempty"`
	// Layout is "14.0" for kernels that record only the kind and rights.
	Layout string `json:"layout,omitempty"`
}

// String renders v as one line: time, pid, command, what and where.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s pid %d %s: %s", v.Time.UTC().Format(time.RFC3339Nano), v.Pid, v.Comm, v.Kind)
	if v.Syscall != "" {
		fmt.Fprintf(&b, " %s", v.Syscall)
	}
	if v.Path != "" {
		fmt.Fprintf(&b, " %q", v.Path)
	}
	if v.Address != "" {
		fmt.Fprintf(&b, " address %s", v.Address)
	}
	if v.Value != nil {
		fmt.Fprintf(&b, " value %d", *v.Value)
	}
	if len(v.Needed) > 0 {
		fmt.Fprintf(&b, " needs %s", strings.Join(v.Needed, "|"))
	}
	if len(v.Held) > 0 {
		fmt.Fprintf(&b, " holds %s", strings.Join(v.Held, "|"))
	}
	return b.String()
}

// Trace is what a ktrace file holds for plugbox: the capability
// violations and whether the kernel lost records.
type Trace struct {
	Violations []Violation
	// Dropped counts records marked KTR_DROP: at least one record was
	// lost before each (the trace is incomplete, not silently).
	Dropped int
	// NewLayout is true when the kernel writes the struct ktr_cap_fail
	// that carries the system call and path (and traces processes outside
	// capability mode).
	NewLayout bool
}

// record is one decoded ktrace record.
type record struct {
	typ  int
	drop bool
	pid  int
	tid  int64
	comm string
	time time.Time
	data []byte
}

// ParseKtrace decodes a ktrace file (as ktrace(2) writes it on LP64
// FreeBSD) into capability violations. Both headers are read: struct
// ktr_header_v0 {int ktr_len; short ktr_type; pid_t ktr_pid; char
// ktr_comm[MAXCOMLEN+1]; struct timeval ktr_time; long ktr_tid} and, when
// ktr_type has KTR_VERSIONED, struct ktr_header {int ktr_len; short
// ktr_type; short ktr_version; pid_t ktr_pid; char ktr_comm[20]; struct
// timespec ktr_time; long ktr_tid; int ktr_cpu}. KTR_CAPFAIL payloads are
// decoded by length: 40 bytes is FreeBSD 14.0's {cap_type; cap_needed;
// cap_held}, 1040 the later {cap_type; short cap_code; u_int cap_svflags;
// union ktr_cap_data}. KTR_NAMEI records (the path, unterminated) give a
// violation without a path its path: the next one of the same thread for
// a system call that takes a path (so a "syscall" violation of open(2)
// shows what it opened), or on 14.0 the one just before a lookup
// violation. A torn last record (a writer still busy) is ignored.
func ParseKtrace(data []byte) (*Trace, error) {
	t := &Trace{}
	// pending is, per thread, the last violation still waiting for the
	// path its system call looks up next (kernels that trace outside
	// capability mode record the violation at system call entry);
	// lastPath is the thread's last KTR_NAMEI path, which FreeBSD 14.0
	// records just before its CAPFAIL_LOOKUP.
	pending := map[int64]int{}
	lastPath := map[int64]string{}
	for off := 0; off < len(data); {
		rec, n, err := readRecord(data[off:])
		if errors.Is(err, errTorn) {
			break
		}
		if err != nil {
			return t, fmt.Errorf("ktrace record at byte %d: %w", off, err)
		}
		off += n
		if rec.drop {
			t.Dropped++
		}
		switch rec.typ {
		case ktrNamei:
			if i, ok := pending[rec.tid]; ok {
				t.Violations[i].Path = string(rec.data)
				delete(pending, rec.tid)
				continue
			}
			lastPath[rec.tid] = string(rec.data)
		case ktrCapfail:
			v, newLayout, err := decodeCapfail(rec.data)
			if err != nil {
				return t, fmt.Errorf("ktrace record at byte %d: %w", off-n, err)
			}
			t.NewLayout = t.NewLayout || newLayout
			v.Time, v.Pid, v.Tid, v.Comm = rec.time, rec.pid, rec.tid, rec.comm
			if !newLayout && v.Kind == "path" {
				v.Path = lastPath[rec.tid]
			}
			delete(pending, rec.tid)
			delete(lastPath, rec.tid)
			t.Violations = append(t.Violations, v)
			if newLayout && v.Kind == "syscall" && pathSyscalls[v.Syscall] {
				pending[rec.tid] = len(t.Violations) - 1
			}
		}
	}
	return t, nil
}

var errTorn = errors.New("torn record")

func readRecord(b []byte) (record, int, error) {
	if len(b) < 8 {
		return record{}, 0, errTorn
	}
	length := int(int32(binary.NativeEndian.Uint32(b)))
	typ := int(binary.NativeEndian.Uint16(b[4:]))
	rec := record{typ: typ &^ (ktrDrop | ktrVersioned), drop: typ&ktrDrop != 0}
	hdr := headerV0Size
	if typ&ktrVersioned != 0 {
		hdr = headerV1Size
	}
	if length < 0 || length > 1<<20 {
		return record{}, 0, fmt.Errorf("ktr_len %d is not a record length", length)
	}
	if len(b) < hdr+length {
		return record{}, 0, errTorn
	}
	rec.pid = int(int32(binary.NativeEndian.Uint32(b[8:])))
	comm := b[12 : 12+maxComLen+1]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	rec.comm = string(comm)
	sec := int64(binary.NativeEndian.Uint64(b[32:]))
	frac := int64(binary.NativeEndian.Uint64(b[40:]))
	if typ&ktrVersioned != 0 {
		if v := binary.NativeEndian.Uint16(b[6:]); v != ktrVersion1 {
			return record{}, 0, fmt.Errorf("ktr_version %d, this reader knows %d", v, ktrVersion1)
		}
		rec.time = time.Unix(sec, frac) // struct timespec: nanoseconds
	} else {
		rec.time = time.Unix(sec, frac*1000) // struct timeval: microseconds
	}
	rec.tid = int64(binary.NativeEndian.Uint64(b[48:]))
	rec.data = b[hdr : hdr+length]
	return rec, hdr + length, nil
}

func decodeCapfail(d []byte) (Violation, bool, error) {
	switch len(d) {
	case capFailOldSize:
		// { enum ktr_cap_fail_type cap_type; (pad) cap_rights_t
		// cap_needed; cap_rights_t cap_held; }
		v := Violation{Layout: "14.0"}
		switch typ := int32(binary.NativeEndian.Uint32(d)); typ {
		case CapfailNotCapable, CapfailIncrease:
			v.Kind = "rights"
			if typ == CapfailIncrease {
				v.Kind = "rights-increase"
			}
			v.Needed = RightNames(rightsAt(d, 8))
			v.Held = RightNames(rightsAt(d, 24))
		case CapfailSyscall:
			v.Kind = "syscall"
		case 3: // CAPFAIL_LOOKUP
			v.Kind = "path"
		default:
			return Violation{}, false, fmt.Errorf("KTR_CAPFAIL: unknown cap_type %d", typ)
		}
		return v, false, nil
	case capFailNewSize:
		// { enum ktr_cap_violation cap_type; short cap_code; u_int
		// cap_svflags; union ktr_cap_data cap_data; } with the union at
		// 16 (aligned for the cap_rights_t it holds).
		v := Violation{Syscall: SyscallName(int(int16(binary.NativeEndian.Uint16(d[4:]))), binary.NativeEndian.Uint32(d[8:]))}
		u := d[16:]
		intVal := func() *int { n := int(int32(binary.NativeEndian.Uint32(u))); return &n }
		switch typ := int32(binary.NativeEndian.Uint32(d)); typ {
		case CapfailNotCapable, CapfailIncrease:
			v.Kind = "rights"
			if typ == CapfailIncrease {
				v.Kind = "rights-increase"
			}
			v.Needed = RightNames(rightsAt(u, 0))
			v.Held = RightNames(rightsAt(u, 16))
		case CapfailSyscall:
			v.Kind = "syscall"
			if v.Syscall == "fcntl" || v.Syscall == "ioctl" {
				v.Value = intVal()
			}
		case CapfailSignal:
			v.Kind, v.Value = "signal", intVal()
		case CapfailProto:
			v.Kind, v.Value = "protocol", intVal()
		case CapfailSockaddr:
			v.Kind, v.Address = "address", sockaddrString(u[:16])
		case CapfailNamei:
			v.Kind = "path"
			p := u[:maxPathLen]
			if i := bytes.IndexByte(p, 0); i >= 0 {
				p = p[:i]
			}
			v.Path = string(p)
		case CapfailCPUSet:
			v.Kind = "cpuset"
		default:
			return Violation{}, true, fmt.Errorf("KTR_CAPFAIL: unknown cap_type %d", typ)
		}
		return v, true, nil
	}
	return Violation{}, false, fmt.Errorf("KTR_CAPFAIL of %d bytes: neither the 14.0 (%d) nor the later (%d) layout", len(d), capFailOldSize, capFailNewSize)
}

func rightsAt(b []byte, off int) Rights {
	return Rights{binary.NativeEndian.Uint64(b[off:]), binary.NativeEndian.Uint64(b[off+8:])}
}

// sockaddrString renders the struct sockaddr at the start of the union:
// sa_len, sa_family, then for AF_INET the port and address in network
// order. Other families are named by number; struct sockaddr holds only
// the first 14 bytes of sa_data, too few for an IPv6 address.
func sockaddrString(sa []byte) string {
	const afInet, afInet6, afUnix = 2, 28, 1
	switch sa[1] {
	case afInet:
		port := binary.BigEndian.Uint16(sa[2:])
		addr := netip.AddrFrom4([4]byte(sa[4:8]))
		return netip.AddrPortFrom(addr, port).String()
	case afUnix:
		p := sa[2:]
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		return "unix:" + string(p)
	case afInet6:
		return fmt.Sprintf("inet6 port %d", binary.BigEndian.Uint16(sa[2:]))
	}
	return fmt.Sprintf("family %d", sa[1])
}

// capRightNames names the rights RightNames reports, most specific first
// so composites (CAP_MMAP_RX) are named before their parts.
var capRightNames = []struct {
	name string
	r    Right
}{
	{"CAP_MMAP_RX", CapMmapRX}, {"CAP_MMAP_R", CapMmapR}, {"CAP_MMAP_W", CapMmapW}, {"CAP_MMAP_X", CapMmapX},
	{"CAP_SEEK", CapSeek},
	{"CAP_READ", CapRead}, {"CAP_WRITE", CapWrite}, {"CAP_SEEK_TELL", CapSeekTell}, {"CAP_MMAP", CapMmap},
	{"CAP_FEXECVE", CapFexecve}, {"CAP_FSYNC", CapFsync}, {"CAP_FTRUNCATE", CapFtruncate},
	{"CAP_LOOKUP", CapLookup}, {"CAP_FCHDIR", CapFchdir}, {"CAP_FCNTL", CapFcntl}, {"CAP_FSTAT", CapFstat},
	{"CAP_FSTATFS", CapFstatfs}, {"CAP_ACCEPT", CapAccept}, {"CAP_GETPEERNAME", CapGetpeername},
	{"CAP_GETSOCKNAME", CapGetsockname}, {"CAP_GETSOCKOPT", CapGetsockopt}, {"CAP_SETSOCKOPT", CapSetsockopt},
	{"CAP_SHUTDOWN", CapShutdown}, {"CAP_EVENT", CapEvent}, {"CAP_IOCTL", CapIoctl},
	{"CAP_CONNECT", capright(0, 0x0000000080000000)}, {"CAP_BIND", capright(0, 0x0000000040000000)},
	{"CAP_LISTEN", capright(0, 0x0000000800000000)}, {"CAP_CREATE", capright(0, 0x0000000000000040)},
	{"CAP_FCHMOD", capright(0, 0x0000000000010000)}, {"CAP_FCHOWN", capright(0, 0x0000000000020000)},
	{"CAP_UNLINKAT", capright(1, 0x0000000000001000)}, {"CAP_MKDIRAT", capright(1, 0x0000000000000200)},
	{"CAP_KQUEUE_EVENT", capright(1, 0x0000000000000040)}, {"CAP_KQUEUE_CHANGE", capright(1, 0x0000000000100000)},
}

// RightNames names the rights set in r (CAP_* of sys/capsicum.h), each
// composite once; bits it does not know are shown in hex.
func RightNames(r Rights) []string {
	left := r
	left[0] &^= uint64(capright(0, 0)) | 3<<62
	left[1] &^= uint64(capright(1, 0))
	var out []string
	for _, n := range capRightNames {
		if r.Has(n.r) {
			i, _ := n.r.index()
			bits := uint64(n.r) &^ uint64(capright(uint(i), 0))
			if left[i]&bits == 0 {
				continue // already named as part of a composite
			}
			out = append(out, n.name)
			left[i] &^= bits
		}
	}
	for i, w := range left {
		if w != 0 {
			out = append(out, fmt.Sprintf("word%d:%#x", i, w))
		}
	}
	return out
}

// pathSyscalls are the system calls that take a path as an argument; a
// KTR_NAMEI record right after a "syscall" violation of one names its path.
var pathSyscalls = map[string]bool{
	"open": true, "openat": true, "access": true, "eaccess": true, "faccessat": true, "stat": true,
	"lstat": true, "fstatat": true, "chdir": true, "chroot": true, "chmod": true, "lchmod": true,
	"fchmodat": true, "chown": true, "lchown": true, "fchownat": true, "link": true, "linkat": true,
	"unlink": true, "unlinkat": true, "mkdir": true, "mkdirat": true, "rmdir": true, "rename": true,
	"renameat": true, "readlink": true, "readlinkat": true, "symlink": true, "symlinkat": true,
	"execve": true, "mknod": true, "mknodat": true, "mkfifo": true, "mkfifoat": true, "truncate": true,
	"chflags": true, "lchflags": true, "chflagsat": true, "utimes": true, "lutimes": true,
	"utimensat": true, "futimesat": true, "statfs": true, "pathconf": true, "lpathconf": true,
	"revoke": true, "acct": true, "swapon": true, "swapoff": true, "mount": true, "unmount": true,
	"nmount": true, "ktrace": true, "getfh": true, "lgetfh": true, "getfhat": true, "extattr_get_file": true,
	"extattr_set_file": true, "extattr_delete_file": true, "extattr_list_file": true,
	"extattr_get_link": true, "extattr_set_link": true, "extattr_delete_link": true,
	"extattr_list_link": true, "__acl_get_file": true, "__acl_set_file": true, "__acl_get_link": true,
	"__acl_set_link": true, "__acl_delete_file": true, "__acl_delete_link": true,
	"__acl_aclcheck_file": true, "__acl_aclcheck_link": true, "bind": true, "connect": true,
	"bindat": true, "connectat": true, "shm_open2": true, "shm_rename": true, "shm_unlink": true,
	"kldload": true, "kldfind": true, "undelete": true, "__realpathat": true, "funlinkat": true,
}

// SyscallName names FreeBSD system call code for the ABI in sv_flags
// (SV_ABI_MASK 0xff, SV_ABI_FREEBSD 9): names come from syscallNames;
// another ABI (Linux emulation) or an unknown code is shown by number.
func SyscallName(code int, svflags uint32) string {
	const svABIMask, svABIFreeBSD = 0xff, 9
	if svflags&svABIMask == svABIFreeBSD || svflags == 0 {
		if name, ok := syscallNames[code]; ok {
			return name
		}
	}
	return fmt.Sprintf("syscall %d", code)
}

// TraceMarker is the path the init helper passes to chdir(2) in plugbox
// trace right before it executes the plugin: a call capability mode
// refuses, so a kernel that traces processes outside capability mode
// records it, and everything after it is the plugin's.
const TraceMarker = "/.plugbox-trace-start"

// AfterMarker returns the violations recorded after the TraceMarker ones,
// and whether the marker was found at all (if not, the kernel does not
// report violations of processes outside capability mode).
func (t *Trace) AfterMarker() ([]Violation, bool) {
	last := -1
	for i, v := range t.Violations {
		if v.Path == TraceMarker {
			last = i
		} else if last >= 0 {
			break
		}
	}
	if last < 0 {
		return nil, false
	}
	return t.Violations[last+1:], true
}

// ViolationCount is a distinct violation and how often it occurred.
type ViolationCount struct {
	Violation
	Count int `json:"count"`
	// Benign marks rtld's own lookups of files it can do without in
	// capability mode (libmap.conf, the hints file): it falls back to
	// the directories in LD_LIBRARY_PATH_FDS.
	Benign bool `json:"benign,omitempty"`
}

// benignPaths are the files rtld opens by path and skips when it cannot.
var benignPaths = map[string]bool{
	"/etc/libmap.conf": true, "/etc/libmap32.conf": true, hintsFile: true, hintsFile32: true,
}

// Summarize groups violations that are the same call on the same thing
// (kind, system call, path, address, value, rights), in first-seen order.
func Summarize(vs []Violation) []ViolationCount {
	var out []ViolationCount
	index := map[string]int{}
	for _, v := range vs {
		key := strings.Join([]string{v.Kind, v.Syscall, v.Path, v.Address, fmt.Sprint(valueOf(v.Value)), strings.Join(v.Needed, "|"), strings.Join(v.Held, "|")}, "\x00")
		if i, ok := index[key]; ok {
			out[i].Count++
			continue
		}
		index[key] = len(out)
		out = append(out, ViolationCount{Violation: v, Count: 1, Benign: benignPaths[v.Path]})
	}
	return out
}

func valueOf(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// What renders the call of c without time, pid and command: the part
// that is the same for each occurrence.
func (c ViolationCount) What() string {
	v := c.Violation
	v.Time, v.Pid, v.Comm = time.Time{}, 0, ""
	s := v.String()
	if i := strings.Index(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
