//go:build !cgo || !seccomp

package seccompgen

import (
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNoCompiler is returned by the compiling functions of a build without
// libseccomp: the policy half of the package (Generate, Explain, Minimize,
// the groups) works everywhere and needs no cgo, which is what a program
// authoring bundles (package plugbox) links; compiling takes the build tag
// "seccomp" and cgo, as plugbox's own binary is built (make build).
var ErrNoCompiler = errors.New("seccomp compiler not built in: build with cgo and -tags seccomp (libseccomp)")

// Program needs libseccomp: see ErrNoCompiler.
func Program(*specs.LinuxSeccomp) ([]unix.SockFilter, error) { return nil, ErrNoCompiler }

// Export needs libseccomp: see ErrNoCompiler.
func Export(_ *specs.LinuxSeccomp, _ io.Writer, format string) error {
	return fmt.Errorf("export %s: %w", format, ErrNoCompiler)
}

// LoadFlags needs libseccomp's build: see ErrNoCompiler.
func LoadFlags(*specs.LinuxSeccomp) (uint32, bool, error) { return 0, false, ErrNoCompiler }

// SyscallName needs libseccomp: see ErrNoCompiler.
func SyscallName(nr int) (string, error) {
	return "", fmt.Errorf("syscall number %d: %w", nr, ErrNoCompiler)
}

// WithoutUnknown needs libseccomp to know which names it knows; without
// it every name is kept.
func WithoutUnknown(s *specs.LinuxSeccomp) (*specs.LinuxSeccomp, []string) {
	return cloneProfile(s), nil
}

// ResolveNative needs libseccomp: see ErrNoCompiler.
func ResolveNative(name string) (int, error) {
	return 0, fmt.Errorf("syscall %q: %w", name, ErrNoCompiler)
}
