package shim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Config is what the shim applies before it execs the plugin.
type Config struct {
	// Args is the plugin's argv; Args[0] is resolved in the container.
	Args []string
	// KeepFDs is how many descriptors (0..KeepFDs-1) the plugin keeps.
	KeepFDs int
	// MonitorFD is the shim's end of the monitor socket, or -1.
	MonitorFD int
	// Rlimits are set right before the filter is loaded.
	Rlimits []Rlimit
	// Landlock, when not nil, restricts the plugin's file access.
	Landlock *Landlock
	// Seccomp, when not nil, is the filter the shim loads.
	Seccomp *Seccomp
	// TraceFD, when not 0, is a descriptor of at least one page (TraceFile)
	// where the shim notes when each of its steps ended.
	TraceFD int
	// Caps, when not nil, are the capabilities the process ends with: the
	// shim loads Seccomp holding CAP_SYS_ADMIN (a process without
	// no_new_privs needs it), then sets these.
	Caps *Caps
	// Binds are the bind mounts whose host file create checked: the shim
	// refuses to start the plugin unless each mount shows that file.
	Binds []Bind
}

// Bind is a mount point inside the container and the identity (device
// and inode) of the host file create checked for it.
type Bind struct {
	Path         string
	Major, Minor uint32
	Ino          uint64
}

// Caps are capability sets as bit masks (bit N is capability N).
type Caps struct {
	Effective, Permitted, Inheritable, Bounding, Ambient uint64
}

// Rlimit is one process.rlimits entry, by resource number (RLIMIT_AS...).
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Landlock is a ruleset: the rights it handles and the paths that get some.
type Landlock struct {
	// HandledFS are the filesystem rights the ruleset restricts.
	HandledFS uint64
	// Scoped are the IPC scopes (ABI 6+) the ruleset restricts.
	Scoped uint64
	// BestEffort runs the plugin without Landlock on a kernel that has none.
	BestEffort bool
	Rules      []LandlockRule
}

// LandlockRule grants Access beneath Path (a path inside the container).
type LandlockRule struct {
	Path   string
	Access uint64
}

// Seccomp is a ready BPF program and the seccomp(2) flags to load it with.
type Seccomp struct {
	// Flags are SECCOMP_FILTER_FLAG_* bits; FlagNewListener needs a monitor.
	Flags uint32
	// Program is struct sock_filter instructions in host byte order.
	Program []byte
}

// Landlock access rights (include/uapi/linux/landlock.h) and scopes.
const (
	AccessFSExecute    = 1 << 0
	AccessFSWriteFile  = 1 << 1
	AccessFSReadFile   = 1 << 2
	AccessFSReadDir    = 1 << 3
	AccessFSRemoveDir  = 1 << 4
	AccessFSRemoveFile = 1 << 5
	AccessFSMakeChar   = 1 << 6
	AccessFSMakeDir    = 1 << 7
	AccessFSMakeReg    = 1 << 8
	AccessFSMakeSock   = 1 << 9
	AccessFSMakeFifo   = 1 << 10
	AccessFSMakeBlock  = 1 << 11
	AccessFSMakeSym    = 1 << 12
	AccessFSRefer      = 1 << 13 // ABI 2
	AccessFSTruncate   = 1 << 14 // ABI 3
	AccessFSIoctlDev   = 1 << 15 // ABI 5
	// AccessFSAll is every filesystem right up to ABI 7.
	AccessFSAll = 1<<16 - 1

	ScopeAbstractUnixSocket = 1 << 0 // ABI 6
	ScopeSignal             = 1 << 1 // ABI 6
)

// FlagNewListener is SECCOMP_FILTER_FLAG_NEW_LISTENER.
const FlagNewListener = 1 << 3

const magic = "PBSHIM01"

// Record tags of the configuration (see the package doc).
const (
	tagEnd = iota
	tagArgv
	tagKeepFDs
	tagMonitorFD
	tagRlimit
	tagLandlock
	tagLandlockPath
	tagSeccomp
	tagTrace
	tagCaps
	tagBind
)

// Encode renders c in the shim's configuration format.
func (c *Config) Encode() ([]byte, error) {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, errors.New("exec shim: process.args is empty")
	}
	if c.KeepFDs < 3 {
		return nil, fmt.Errorf("exec shim: %d kept descriptors, stdio needs 3", c.KeepFDs)
	}
	if c.Seccomp != nil && c.Seccomp.Flags&FlagNewListener != 0 && c.MonitorFD < 0 {
		return nil, errors.New("exec shim: a seccomp listener needs a monitor socket")
	}
	if c.Caps != nil && (c.Seccomp == nil || c.Seccomp.Flags&FlagNewListener != 0) {
		return nil, errors.New("exec shim: capabilities are set after a seccomp filter without a listener, and there is none")
	}
	if c.MonitorFD >= 0 && c.MonitorFD < c.KeepFDs {
		return nil, fmt.Errorf("exec shim: monitor socket %d is among the %d kept descriptors", c.MonitorFD, c.KeepFDs)
	}
	e := encoder{buf: []byte(magic)}
	var argv []byte
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("exec shim: process.args[%d] contains a NUL byte", i)
		}
		argv = append(append(argv, a...), 0)
	}
	e.record(tagArgv, argv)
	e.record(tagKeepFDs, u32(uint32(c.KeepFDs)))
	if c.MonitorFD >= 0 {
		e.record(tagMonitorFD, u32(uint32(c.MonitorFD)))
	}
	for _, r := range c.Rlimits {
		if r.Resource < 0 || r.Resource > 15 {
			return nil, fmt.Errorf("exec shim: rlimit resource %d is not known", r.Resource)
		}
		p := u32(uint32(r.Resource))
		p = append(p, 0, 0, 0, 0)
		p = binary.NativeEndian.AppendUint64(p, r.Soft)
		p = binary.NativeEndian.AppendUint64(p, r.Hard)
		e.record(tagRlimit, p)
	}
	if l := c.Landlock; l != nil {
		p := binary.NativeEndian.AppendUint64(nil, l.HandledFS)
		p = binary.NativeEndian.AppendUint64(p, l.Scoped)
		var flags uint32
		if l.BestEffort {
			flags |= 1
		}
		p = append(p, u32(flags)...)
		p = append(p, 0, 0, 0, 0)
		e.record(tagLandlock, p)
		for _, r := range l.Rules {
			if r.Path == "" || strings.IndexByte(r.Path, 0) >= 0 {
				return nil, fmt.Errorf("exec shim: Landlock path %q is empty or contains a NUL byte", r.Path)
			}
			p := binary.NativeEndian.AppendUint64(nil, r.Access)
			e.record(tagLandlockPath, append(append(p, r.Path...), 0))
		}
	}
	if c.TraceFD != 0 {
		if c.TraceFD < c.KeepFDs || c.TraceFD == c.MonitorFD {
			return nil, fmt.Errorf("exec shim: trace descriptor %d is among the plugin's or is the monitor's", c.TraceFD)
		}
		e.record(tagTrace, append(u32(uint32(c.TraceFD)), 0, 0, 0, 0))
	}
	if s := c.Seccomp; s != nil {
		n := len(s.Program) / 8
		if len(s.Program)%8 != 0 || n < 1 || n > 4096 {
			return nil, fmt.Errorf("exec shim: a seccomp program of %d bytes is not 1 to 4096 instructions", len(s.Program))
		}
		p := append(u32(s.Flags), 0, 0, 0, 0)
		e.record(tagSeccomp, append(p, s.Program...))
	}
	if k := c.Caps; k != nil {
		var p []byte
		for _, set := range []uint64{k.Effective, k.Permitted, k.Inheritable, k.Bounding, k.Ambient} {
			p = binary.NativeEndian.AppendUint64(p, set)
		}
		e.record(tagCaps, p)
	}
	for _, b := range c.Binds {
		if !strings.HasPrefix(b.Path, "/") || strings.IndexByte(b.Path, 0) >= 0 {
			return nil, fmt.Errorf("exec shim: bind mount point %q is not an absolute path or contains a NUL byte", b.Path)
		}
		p := binary.NativeEndian.AppendUint64(nil, b.Ino)
		p = binary.NativeEndian.AppendUint32(p, b.Major)
		p = binary.NativeEndian.AppendUint32(p, b.Minor)
		e.record(tagBind, append(append(p, b.Path...), 0))
	}
	e.record(tagEnd, nil)
	return e.buf, nil
}

type encoder struct{ buf []byte }

func (e *encoder) record(tag uint32, payload []byte) {
	e.buf = binary.NativeEndian.AppendUint32(e.buf, tag)
	e.buf = binary.NativeEndian.AppendUint32(e.buf, uint32(len(payload)))
	e.buf = append(e.buf, payload...)
	for len(e.buf)%8 != 0 {
		e.buf = append(e.buf, 0)
	}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
