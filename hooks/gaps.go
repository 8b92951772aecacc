package hooks

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
)

// recordingScope says what the record hook can record for a container
// with spec: the kernel reports kills and SCMP_ACT_LOG always, errno
// denials and traps only with SECCOMP_FILTER_FLAG_LOG.
func recordingScope(spec *specs.Spec) string {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return "config.json has no linux.seccomp profile: no call will be denied, nothing to record"
	}
	s := spec.Linux.Seccomp
	logFlag := slices.Contains(s.Flags, specs.LinuxSeccompFlagLog)
	var errno, trap bool
	check := func(a specs.LinuxSeccompAction, ret *uint) {
		switch {
		case a == specs.ActErrno && (ret == nil || *ret != 38):
			errno = true
		case a == specs.ActTrap:
			trap = true
		}
	}
	check(s.DefaultAction, s.DefaultErrnoRet)
	for _, e := range s.Syscalls {
		check(e.Action, e.ErrnoRet)
	}
	msg := "the calls the kernel reports the seccomp filter killing, or letting run with SCMP_ACT_LOG"
	if logFlag {
		return msg + ", and (SECCOMP_FILTER_FLAG_LOG is set) every other call it does not allow"
	}
	var missing []string
	if errno {
		missing = append(missing, "fails with an errno")
	}
	if trap {
		missing = append(missing, "traps (SIGSYS)")
	}
	if len(missing) == 0 {
		return msg
	}
	msg += "; the calls it " + strings.Join(missing, " or ") + " are not reported by the kernel: add \"SECCOMP_FILTER_FLAG_LOG\" to linux.seccomp.flags to record them (plugbox, crun and runc 1.2+ load it; runc 1.1 refuses flags)"
	if spec.Annotations[bundle.AnnotationMonitor] != "" {
		msg += " (under plugbox, its monitor logs the errno denials: plugbox violations ID)"
	}
	return msg
}
