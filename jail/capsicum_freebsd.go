package jail

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limit restricts fd to rights with cap_rights_limit(2).
func Limit(fd int, r Rights) error {
	cr := unix.CapRights{Rights: r}
	if err := unix.CapRightsLimit(uintptr(fd), &cr); err != nil {
		return fmt.Errorf("cap_rights_limit fd %d: %w", fd, err)
	}
	return nil
}

// EnterCapabilityMode puts the process in capability mode (cap_enter(2)):
// from here on no global namespace (paths, pids, sockets by address) is
// reachable, only the descriptors it holds.
func EnterCapabilityMode() error {
	if err := unix.CapEnter(); err != nil {
		return fmt.Errorf("cap_enter: %w", err)
	}
	return nil
}

// Fexecve executes the program open as fd (fexecve(2)), the only exec
// capability mode allows. It returns only on failure.
func Fexecve(fd int, argv, env []string) error {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_FEXECVE, uintptr(fd), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return fmt.Errorf("fexecve: %w", errno)
}

// Classify reports what fd refers to and how it was opened, for RightsFor.
func Classify(fd int) (FDKind, AccessMode, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return FDUnknown, 0, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return FDUnknown, 0, fmt.Errorf("fcntl(F_GETFL) fd %d: %w", fd, err)
	}
	mode := ReadOnly
	switch fl & unix.O_ACCMODE {
	case unix.O_WRONLY:
		mode = WriteOnly
	case unix.O_RDWR:
		mode = ReadWrite
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return FDFile, mode, nil
	case unix.S_IFDIR:
		return FDDir, mode, nil
	case unix.S_IFIFO:
		return FDPipe, mode, nil
	case unix.S_IFCHR:
		return FDCharDev, mode, nil
	case unix.S_IFSOCK:
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v != 0 {
			return FDListener, mode, nil
		}
		return FDSocket, mode, nil
	}
	return FDUnknown, mode, nil
}

// LimitInherited limits each descriptor in fds to the rights RightsFor
// gives its kind and mode.
func LimitInherited(fds []int) error {
	for _, fd := range fds {
		kind, mode, err := Classify(fd)
		if err != nil {
			return err
		}
		r, err := RightsFor(kind, mode)
		if err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
		if err := Limit(fd, r); err != nil {
			return err
		}
	}
	return nil
}
