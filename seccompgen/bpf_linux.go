package seccompgen

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// SeccompData is the input of a seccomp program (struct seccomp_data).
type SeccompData struct {
	Nr   int32
	Arch uint32 // AUDIT_ARCH_*
	IP   uint64
	Args [6]uint64
}

// NativeAuditArch is AUDIT_ARCH_* of the architecture this program runs on.
func NativeAuditArch() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return auditArchX86_64, nil
	case "arm64":
		return auditArchAARCH64, nil
	}
	return 0, fmt.Errorf("architecture %s: seccomp programs are built for amd64 and arm64 only", runtime.GOARCH)
}

// Evaluate runs a seccomp program on d as the kernel would and returns its
// SECCOMP_RET_* value: a classic-BPF interpreter for the instructions
// libseccomp and the ENOSYS stub emit (loads of seccomp_data words, scratch
// memory, AND/OR, jumps, returns). An instruction outside that set, or a
// program that runs off its end, is an error.
func Evaluate(prog []unix.SockFilter, d SeccompData) (uint32, error) {
	var data [64]byte
	binary.NativeEndian.PutUint32(data[0:], uint32(d.Nr))
	binary.NativeEndian.PutUint32(data[4:], d.Arch)
	binary.NativeEndian.PutUint64(data[8:], d.IP)
	for i, a := range d.Args {
		binary.NativeEndian.PutUint64(data[16+8*i:], a)
	}
	var acc, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K > 60 || in.K%4 != 0 {
				return 0, fmt.Errorf("instruction %d: load at offset %d of seccomp_data", pc, in.K)
			}
			acc = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_LD | unix.BPF_IMM:
			acc = in.K
		case unix.BPF_LD | unix.BPF_MEM:
			acc = mem[in.K%16]
		case unix.BPF_LDX | unix.BPF_IMM:
			x = in.K
		case unix.BPF_LDX | unix.BPF_MEM:
			x = mem[in.K%16]
		case unix.BPF_ST:
			mem[in.K%16] = acc
		case unix.BPF_STX:
			mem[in.K%16] = x
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_ALU | unix.BPF_OR | unix.BPF_K:
			acc |= in.K
		case unix.BPF_MISC | unix.BPF_TAX:
			x = acc
		case unix.BPF_MISC | unix.BPF_TXA:
			acc = x
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var ok bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				ok = acc == in.K
			case unix.BPF_JGT:
				ok = acc > in.K
			case unix.BPF_JGE:
				ok = acc >= in.K
			case unix.BPF_JSET:
				ok = acc&in.K != 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K, nil
		case unix.BPF_RET | unix.BPF_A:
			return acc, nil
		default:
			return 0, fmt.Errorf("instruction %d: opcode %#x is not simulated", pc, in.Code)
		}
	}
	return 0, fmt.Errorf("the program runs off its end (%d instructions)", len(prog))
}
