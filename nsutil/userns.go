// Package nsutil probes what this Linux host allows for namespaces, so that
// plugbox can name the exact fix instead of passing on a bare EPERM, and
// hands out the host id ranges of sandboxes' user namespaces.
package nsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ProcSys is where the kernel's tunables are read from; tests point it at a
// directory of their own.
var ProcSys = "/proc/sys"

// userNSKnobs are the sysctls that stop an unprivileged user from creating
// user namespaces, with the value that blocks and the fix.
var userNSKnobs = []struct {
	path, blocking, fix string
}{
	// Ubuntu 23.10+ (bubblewrap#632, nsjail#236).
	{"kernel/apparmor_restrict_unprivileged_userns", "1",
		"AppArmor restricts unprivileged user namespaces: run 'sysctl kernel.apparmor_restrict_unprivileged_userns=0' as root, or give plugbox an AppArmor profile with 'userns,'"},
	// Debian before 11, some hardened kernels.
	{"kernel/unprivileged_userns_clone", "0",
		"unprivileged user namespaces are disabled: run 'sysctl kernel.unprivileged_userns_clone=1' as root"},
	{"user/max_user_namespaces", "0",
		"user namespaces are disabled (user.max_user_namespaces = 0): run 'sysctl user.max_user_namespaces=15000' as root"},
}

// UnprivilegedUserNSBlocked reports whether a sysctl stops unprivileged
// users from creating user namespaces, and if so the fix. Knobs this kernel
// lacks do not block.
func UnprivilegedUserNSBlocked() (blocked bool, fix string) {
	for _, k := range userNSKnobs {
		data, err := os.ReadFile(filepath.Join(ProcSys, k.path))
		if err != nil {
			continue
		}
		if strings.TrimSpace(string(data)) == k.blocking {
			return true, fmt.Sprintf("%s (%s)", k.fix, filepath.Join("/proc/sys", k.path))
		}
	}
	return false, ""
}
