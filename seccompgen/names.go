package seccompgen

// AUDIT_ARCH_* values of the architectures plugbox builds filters for.
const (
	auditArchX86_64  = 0xc000003e
	auditArchAARCH64 = 0xc00000b7
)

// NameOf returns the name of syscall number nr on goarch ("amd64" or
// "arm64") from plugbox's table, for readers of records that carry numbers
// (the kernel's audit log). It needs no libseccomp.
func NameOf(goarch string, nr int) (string, bool) {
	arch, err := archFor(goarch)
	if err != nil || goarch == "" {
		return "", false
	}
	for name, nrs := range syscallTable() {
		if nrs[arch.col] == nr {
			return name, true
		}
	}
	return "", false
}

// GoarchOfAudit maps an AUDIT_ARCH_* value (seccomp_data.arch, the
// kernel's audit records) to the GOARCH whose syscall numbers it uses, ""
// for architectures plugbox has no table for.
func GoarchOfAudit(auditArch uint32) string {
	switch auditArch {
	case auditArchX86_64:
		return "amd64"
	case auditArchAARCH64:
		return "arm64"
	}
	return ""
}
