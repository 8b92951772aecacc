package jail

import (
	"encoding/binary"
	"fmt"
)

// Layout of struct kinfo_proc (sys/user.h) on LP64 FreeBSD (amd64, arm64,
// riscv64, powerpc64): KINFO_PROC_SIZE and the offsets of the fields plugbox
// reads. The ABI keeps these offsets stable across releases; the size check
// in ParseKinfoProcs catches a layout this code does not know.
const (
	kinfoProcSize = 1088 // KINFO_PROC_SIZE
	kinfoPidOff   = 72   // ki_pid
	kinfoStatOff  = 388  // ki_stat
	kinfoJidOff   = 592  // ki_jid
)

// ProcStat values of ki_stat (sys/proc.h).
const (
	StatZombie = 5 // SZOMB
)

// Proc is the part of a kinfo_proc plugbox uses.
type Proc struct {
	PID  int
	JID  int
	Stat int
}

// Zombie reports whether the process has exited and awaits reaping.
func (p Proc) Zombie() bool { return p.Stat == StatZombie }

// ParseKinfoProcs decodes the array of struct kinfo_proc the kern.proc
// sysctls return.
func ParseKinfoProcs(buf []byte) ([]Proc, error) {
	var out []Proc
	for len(buf) > 0 {
		if len(buf) < 4 {
			return nil, fmt.Errorf("kinfo_proc: %d trailing bytes", len(buf))
		}
		size := int(binary.NativeEndian.Uint32(buf))
		if size != kinfoProcSize {
			return nil, fmt.Errorf("kinfo_proc: ki_structsize %d, want %d (unsupported architecture or ABI)", size, kinfoProcSize)
		}
		if len(buf) < size {
			return nil, fmt.Errorf("kinfo_proc: truncated record (%d of %d bytes)", len(buf), size)
		}
		out = append(out, Proc{
			PID:  int(int32(binary.NativeEndian.Uint32(buf[kinfoPidOff:]))),
			JID:  int(int32(binary.NativeEndian.Uint32(buf[kinfoJidOff:]))),
			Stat: int(int8(buf[kinfoStatOff])),
		})
		buf = buf[size:]
	}
	return out, nil
}

// InJail returns the PIDs of the live (non-zombie) processes of jail jid.
func InJail(procs []Proc, jid int) []int {
	var pids []int
	for _, p := range procs {
		if p.JID == jid && !p.Zombie() {
			pids = append(pids, p.PID)
		}
	}
	return pids
}
