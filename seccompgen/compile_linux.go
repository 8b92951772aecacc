//go:build cgo && seccomp

package seccompgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Compile turns s into a libseccomp filter the way runc's libcontainer
// does (same actions, operators, argument grouping and skipped rules), with
// three differences that fail closed: a name libseccomp does not know but
// plugbox's table does gets its native number from the table (for a
// profile of the native architecture alone); another name libseccomp does
// not know in an allowing rule (ALLOW, LOG, TRACE) is an error instead of
// being ignored; and the bad-architecture action is SCMP_ACT_KILL_PROCESS
// instead of libseccomp's thread kill. Other unknown names in denying rules
// are skipped, as runc does. The filter keeps libseccomp's
// no_new_privs setting, so its Load sets no_new_privs. The caller releases
// it. A SCMP_ACT_NOTIFY default action is accepted here (runc's loader
// refuses it; plugbox's shim loads such profiles itself).
//
// The filter lacks the ENOSYS stub for calls newer than the profile; use
// Program, Load or Export for the program the kernel should get.
func Compile(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	if s == nil {
		return nil, errors.New("compile seccomp profile: nil profile")
	}
	def, err := scmpAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp profile: defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp profile: new filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Release()
		}
	}()
	if err := f.SetBadArchAction(libseccomp.ActKillProcess); err != nil {
		return nil, fmt.Errorf("compile seccomp profile: bad-architecture action: %w", err)
	}
	for i, a := range s.Architectures {
		short, found := strings.CutPrefix(string(a), "SCMP_ARCH_")
		if !found {
			return nil, fmt.Errorf("compile seccomp profile: architectures[%d] %q: not an SCMP_ARCH_ name", i, a)
		}
		arch, err := libseccomp.GetArchFromString(short)
		if err != nil {
			return nil, fmt.Errorf("compile seccomp profile: architectures[%d] %q: %w", i, a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("compile seccomp profile: architectures[%d] %q: %w", i, a, err)
		}
	}
	for i, fl := range s.Flags {
		if err := setFlag(f, fl); err != nil {
			return nil, fmt.Errorf("compile seccomp profile: flags[%d]: %w", i, err)
		}
	}
	if len(s.Syscalls) > 0 {
		// Binary tree: O(log n) for denied and argument-checked calls.
		// (libseccomp <= 2.5.4 mishandles it with no rules at all.)
		if err := f.SetOptimize(2); err != nil {
			return nil, fmt.Errorf("compile seccomp profile: binary tree optimisation: %w", err)
		}
	}
	resolve := resolver(s)
	for i, e := range s.Syscalls {
		if err := addEntry(f, def, e, resolve); err != nil {
			return nil, fmt.Errorf("compile seccomp profile: syscalls[%d]: %w", i, err)
		}
	}
	ok = true
	return f, nil
}

func setFlag(f *libseccomp.ScmpFilter, fl specs.LinuxSeccompFlag) error {
	var err error
	switch fl {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		// libseccomp always synchronises threads; runc ignores it too.
	case specs.LinuxSeccompFlagSpecAllow:
		err = f.SetSSB(true)
	case specs.LinuxSeccompFlagLog:
		err = f.SetLogBit(true)
	case specs.LinuxSeccompFlagWaitKillableRecv:
		err = f.SetWaitKill(true)
	default:
		return fmt.Errorf("seccomp flag %q is not known", fl)
	}
	if err != nil {
		return fmt.Errorf("seccomp flag %s: %w", fl, err)
	}
	return nil
}

func scmpAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		ret := uint(errnoEPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		return libseccomp.ActErrno.SetReturnCode(int16(ret)), nil
	case specs.ActTrace:
		ret := uint(errnoEPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		return libseccomp.ActTrace.SetReturnCode(int16(ret)), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("action %q is not known", a)
}

var scmpOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// permits reports whether act lets the call run, so an unknown name in its
// rule would silently deny what the profile asked to allow.
func permits(act libseccomp.ScmpAction) bool {
	switch act & 0xffff {
	case libseccomp.ActAllow, libseccomp.ActLog, libseccomp.ActTrace:
		return true
	}
	return false
}

// resolver returns the syscall-number lookup for s's rules: libseccomp's
// table, and for a name it lacks (calls newer than libseccomp 2.5.4, such
// as statmount or open_tree_attr) plugbox's own, when s is for the native
// architecture alone: libseccomp takes a native number it does not know as
// it is. Otherwise such a name would vanish from the filter, and a denying
// rule for it under a default that allows (log, audit) would let it run.
func resolver(s *specs.LinuxSeccomp) func(string) (libseccomp.ScmpSyscall, error) {
	col := -1
	if native, err := libseccomp.GetNativeArch(); err == nil && len(s.Architectures) == 1 {
		switch {
		case native == libseccomp.ArchAMD64 && s.Architectures[0] == specs.ArchX86_64:
			col = 0
		case native == libseccomp.ArchARM64 && s.Architectures[0] == specs.ArchAARCH64:
			col = 1
		}
	}
	return func(name string) (libseccomp.ScmpSyscall, error) {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err == nil || col < 0 {
			return nr, err
		}
		if nrs, ok := syscallTable()[name]; ok && nrs[col] >= 0 {
			return libseccomp.ScmpSyscall(nrs[col]), nil
		}
		return nr, err
	}
}

func addEntry(f *libseccomp.ScmpFilter, def libseccomp.ScmpAction, e specs.LinuxSyscall, resolve func(string) (libseccomp.ScmpSyscall, error)) error {
	act, err := scmpAction(e.Action, e.ErrnoRet)
	if err != nil {
		return err
	}
	if act == def {
		// Redundant with the default; libseccomp refuses it (runc skips it too).
		return nil
	}
	var conds []libseccomp.ScmpCondition
	perIndex := map[uint]int{}
	for j, a := range e.Args {
		op, ok := scmpOps[a.Op]
		if !ok {
			return fmt.Errorf("args[%d]: operator %q is not known", j, a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return fmt.Errorf("args[%d]: %w", j, err)
		}
		conds = append(conds, c)
		perIndex[a.Index]++
	}
	// Like runc: several conditions on one argument become separate rules
	// (any of them matches); otherwise all conditions must match.
	split := false
	for _, n := range perIndex {
		split = split || n > 1
	}
	for _, name := range e.Names {
		nr, err := resolve(name)
		if err != nil {
			if permits(act) {
				return fmt.Errorf("syscall %q is not known to libseccomp %s: refusing to drop a rule that allows it", name, libVersion())
			}
			continue
		}
		switch {
		case len(conds) == 0:
			err = f.AddRule(nr, act)
		case split:
			for _, c := range conds {
				if err = f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = f.AddRuleConditional(nr, act, conds)
		}
		if err != nil {
			return fmt.Errorf("rule for %s (%s): %w", name, e.Action, err)
		}
	}
	return nil
}

func libVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// Linux constants for the ENOSYS stub.
const (
	x32SyscallBit = 0x40000000
	retErrno      = 0x00050000 // SECCOMP_RET_ERRNO
	offNr         = 0          // offsetof(struct seccomp_data, nr)
	offArch       = 4          // offsetof(struct seccomp_data, arch)

	bpfLdWAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgtK   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K
)

// Program returns the BPF program the kernel should get for s: the
// libseccomp filter from Compile behind a stub that answers ENOSYS for
// native syscall numbers above the highest one the profile names (numbers
// from plugbox's table, see highestNative), the
// contract runc's libcontainer gives profiles it loads (patchbpf). x32
// calls and other architectures pass to the filter, which kills them. Like
// runc, there is no stub when the default action allows or already is
// ENOSYS. Load it with seccomp(SECCOMP_SET_MODE_FILTER) after setting
// no_new_privs; compiling once and loading this at every start avoids
// libseccomp's compile cost.
func Program(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	f, err := Compile(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	raw, err := exportTo(f.ExportBPF)
	if err != nil {
		return nil, fmt.Errorf("export seccomp BPF: %w", err)
	}
	if len(raw)%8 != 0 {
		return nil, fmt.Errorf("export seccomp BPF: %d bytes is not whole instructions", len(raw))
	}
	stub, err := enosysStub(s)
	if err != nil {
		return nil, err
	}
	prog := stub
	for i := 0; i < len(raw); i += 8 {
		prog = append(prog, unix.SockFilter{
			Code: binary.NativeEndian.Uint16(raw[i:]),
			Jt:   raw[i+2],
			Jf:   raw[i+3],
			K:    binary.NativeEndian.Uint32(raw[i+4:]),
		})
	}
	if len(prog) > 4096 { // BPF_MAXINSNS
		return nil, fmt.Errorf("seccomp program has %d instructions, the kernel takes at most 4096", len(prog))
	}
	return prog, nil
}

// enosysStub builds the ENOSYS prefix for the native architecture, or nil
// when the profile does not get one.
func enosysStub(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return nil, nil
	case specs.ActErrno:
		if s.DefaultErrnoRet != nil && *s.DefaultErrnoRet == errnoENOSYS {
			return nil, nil
		}
	}
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("enosys stub: native architecture: %w", err)
	}
	var audit uint32
	switch native {
	case libseccomp.ArchAMD64:
		audit = auditArchX86_64
	case libseccomp.ArchARM64:
		audit = auditArchAARCH64
	default:
		return nil, fmt.Errorf("enosys stub: native architecture %s is not supported (amd64 and arm64 are)", native)
	}
	highest := highestNative(s, native)
	if highest < 0 {
		return nil, nil
	}
	// Jumps are filled in below, once the stub's length (the filter's first
	// instruction) is known.
	stub := []unix.SockFilter{
		{Code: bpfLdWAbs, K: offArch},
		{Code: bpfJeqK, K: audit}, // jf: to the filter
		{Code: bpfLdWAbs, K: offNr},
	}
	if native == libseccomp.ArchAMD64 {
		stub = append(stub, unix.SockFilter{Code: bpfJsetK, K: x32SyscallBit}) // jt: to the filter
	}
	stub = append(stub,
		unix.SockFilter{Code: bpfJgtK, K: uint32(highest)}, // jf: to the filter
		unix.SockFilter{Code: bpfRetK, K: retErrno | errnoENOSYS},
	)
	end := len(stub)
	for i := range stub {
		skip := uint8(end - i - 1)
		switch stub[i].Code {
		case bpfJeqK, bpfJgtK:
			stub[i].Jf = skip
		case bpfJsetK:
			stub[i].Jt = skip
		}
	}
	return stub, nil
}

// highestNative is the highest native syscall number s names, from
// plugbox's own table (which knows calls newer than libseccomp, 457 and up)
// and, for names it lacks, from libseccomp's. Taking it from libseccomp
// alone would put the stub's bound below calls the profile denies, so they
// would get ENOSYS without reaching the profile's action or the log.
func highestNative(s *specs.LinuxSeccomp, native libseccomp.ScmpArch) int {
	col := 0
	if native == libseccomp.ArchARM64 {
		col = 1
	}
	highest := -1
	for _, e := range s.Syscalls {
		for _, n := range e.Names {
			nr := -1
			if nrs, ok := syscallTable()[n]; ok {
				nr = nrs[col]
			} else if scmp, err := libseccomp.GetSyscallFromName(n); err == nil {
				nr = int(scmp)
			}
			highest = max(highest, nr)
		}
	}
	return highest
}

// exportTo runs a libseccomp export into a memfd and returns what it wrote.
func exportTo(export func(*os.File) error) ([]byte, error) {
	fd, err := unix.MemfdCreate("seccompgen-export", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	file := os.NewFile(uintptr(fd), "seccompgen-export")
	defer file.Close()
	if err := export(file); err != nil {
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(file)
}

// Export writes s in format: "bpf" is Program's instructions as raw
// struct sock_filter in native byte order (ready for seccomp(2)); "pfc" is
// libseccomp's pseudo-filter-code listing, preceded by comment lines that
// describe the ENOSYS stub Program puts in front.
func Export(s *specs.LinuxSeccomp, w io.Writer, format string) error {
	switch format {
	case "bpf":
		prog, err := Program(s)
		if err != nil {
			return err
		}
		buf := make([]byte, 0, 8*len(prog))
		for _, in := range prog {
			buf = binary.NativeEndian.AppendUint16(buf, in.Code)
			buf = append(buf, in.Jt, in.Jf)
			buf = binary.NativeEndian.AppendUint32(buf, in.K)
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("export seccomp BPF: %w", err)
		}
		return nil
	case "pfc":
		f, err := Compile(s)
		if err != nil {
			return err
		}
		defer f.Release()
		stub, err := enosysStub(s)
		if err != nil {
			return err
		}
		pfc, err := exportTo(f.ExportPFC)
		if err != nil {
			return fmt.Errorf("export seccomp PFC: %w", err)
		}
		header := "# plugbox: no ENOSYS stub (the default action allows or is ENOSYS)\n"
		for _, in := range stub {
			if in.Code == bpfJgtK {
				header = fmt.Sprintf("# plugbox: ENOSYS stub in front: native syscalls numbered above %d return ENOSYS\n", in.K)
			}
		}
		if _, err := io.WriteString(w, header); err != nil {
			return fmt.Errorf("export seccomp PFC: %w", err)
		}
		if _, err := w.Write(pfc); err != nil {
			return fmt.Errorf("export seccomp PFC: %w", err)
		}
		return nil
	}
	return fmt.Errorf("export seccomp profile: format %q: use \"bpf\" or \"pfc\"", format)
}

// Load installs Program(s) (ENOSYS stub included) on every thread of the
// calling process and returns the user-notification listener fd when s
// uses SCMP_ACT_NOTIFY anywhere, else -1. The caller must already have set
// no_new_privs (libcontainer and the shim do), and should load as late as
// possible before the plugin's execve: from here on the caller is filtered.
// s.Flags map to seccomp(2) flags; an unknown flag is an error.
func Load(s *specs.LinuxSeccomp) (int, error) {
	prog, err := Program(s)
	if err != nil {
		return -1, err
	}
	lf, notify, err := LoadFlags(s)
	if err != nil {
		return -1, fmt.Errorf("load seccomp profile: %w", err)
	}
	flags := uintptr(lf) | unix.SECCOMP_FILTER_FLAG_TSYNC
	if notify {
		// TSYNC_ESRCH: report a thread that cannot sync as ESRCH, so the
		// return value can carry the listener fd.
		flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return -1, fmt.Errorf("load seccomp profile: seccomp(SECCOMP_SET_MODE_FILTER, %#x): %w", flags, errno)
	}
	if !notify {
		return -1, nil
	}
	return int(r), nil
}

// LoadFlags returns the seccomp(2) flags for loading s's program into a
// single-threaded process (no TSYNC): its Flags, and
// SECCOMP_FILTER_FLAG_NEW_LISTENER when s notifies (then notify is true).
// An unknown flag is an error.
func LoadFlags(s *specs.LinuxSeccomp) (flags uint32, notify bool, err error) {
	for i, fl := range s.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_TSYNC":
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagWaitKillableRecv:
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, false, fmt.Errorf("flags[%d]: seccomp flag %q is not known", i, fl)
		}
	}
	notify = s.DefaultAction == specs.ActNotify
	for _, e := range s.Syscalls {
		notify = notify || e.Action == specs.ActNotify
	}
	if notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return flags, notify, nil
}

// ResolveNative returns name's syscall number on the native architecture,
// or an error when libseccomp does not know the name or the architecture
// lacks the call.
func ResolveNative(name string) (int, error) {
	nr, err := libseccomp.GetSyscallFromName(name)
	if err != nil {
		return 0, fmt.Errorf("syscall %q: not known to libseccomp %s: %w", name, libVersion(), err)
	}
	if nr < 0 {
		return 0, fmt.Errorf("syscall %q does not exist on this architecture", name)
	}
	return int(nr), nil
}

// SyscallName returns the name of native syscall number nr, for the
// notification listener (seccomp_notif carries numbers): from plugbox's
// table, which knows calls newer than libseccomp, else from libseccomp's.
func SyscallName(nr int) (string, error) {
	if name, ok := nativeNames()[nr]; ok {
		return name, nil
	}
	name, err := libseccomp.ScmpSyscall(nr).GetName()
	if err != nil {
		return "", fmt.Errorf("syscall number %d: not known to libseccomp %s: %w", nr, libVersion(), err)
	}
	return name, nil
}

// nativeNames maps native syscall numbers to plugbox's names.
var nativeNames = sync.OnceValue(func() map[int]string {
	m := map[int]string{}
	arch, err := archFor("")
	if err != nil {
		return m
	}
	for name, nrs := range syscallTable() {
		if nr := nrs[arch.col]; nr >= 0 {
			m[nr] = name
		}
	}
	return m
})

// WithoutUnknown returns a copy of s without the syscall names this
// libseccomp does not know, and those names. A name libseccomp knows but
// that has no native number (socketcall, _llseek on x86_64) is kept: the
// profile's other architectures need it, and dropping socketcall makes
// libseccomp refuse the x86 socket rules. It gives foreign profiles
// (Docker's, podman's) runc's tolerance of calls newer than the library;
// a dropped allow cannot widen the filter, because the default action then
// answers the call. plugbox-authored profiles are not passed through it:
// there an unknown name is a mistake and Compile refuses it.
func WithoutUnknown(s *specs.LinuxSeccomp) (*specs.LinuxSeccomp, []string) {
	out := cloneProfile(s)
	var dropped []string
	kept := out.Syscalls[:0]
	for _, e := range out.Syscalls {
		var names []string
		for _, name := range e.Names {
			if _, err := libseccomp.GetSyscallFromName(name); err == nil {
				names = append(names, name)
			} else {
				dropped = append(dropped, name)
			}
		}
		if len(names) > 0 {
			e.Names = names
			kept = append(kept, e)
		}
	}
	out.Syscalls = kept
	return out, dropped
}
