package jail

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Processes returns the live processes of jail jid, read from the
// kern.proc.proc sysctl.
func Processes(jid int) ([]int, error) {
	buf, err := unix.SysctlRaw("kern.proc.proc")
	if err != nil {
		return nil, fmt.Errorf("sysctl kern.proc.proc: %w", err)
	}
	procs, err := ParseKinfoProcs(buf)
	if err != nil {
		return nil, err
	}
	return InJail(procs, jid), nil
}

// Alive reports whether pid exists, has not exited, and runs in jail jid;
// the jail check guards against a recycled pid.
func Alive(pid, jid int) (bool, error) {
	if pid <= 0 {
		return false, nil
	}
	buf, err := unix.SysctlRaw("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	procs, err := ParseKinfoProcs(buf)
	if err != nil {
		return false, err
	}
	return len(InJail(procs, jid)) > 0, nil
}
