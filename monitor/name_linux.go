package monitor

import (
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/plugbox/plugbox/seccompgen"
)

// syscallName names a notified call, "" when no table knows it. Native
// calls come from plugbox's table, which knows calls newer than libseccomp
// (statmount, mseal, file_setattr ...), so the log names what the profile
// named.
func syscallName(arch libseccomp.ScmpArch, nr libseccomp.ScmpSyscall) string {
	if native, err := libseccomp.GetNativeArch(); err == nil && arch == native {
		if name, err := seccompgen.SyscallName(int(nr)); err == nil {
			return name
		}
	}
	name, _ := nr.GetNameByArch(arch)
	return name
}
