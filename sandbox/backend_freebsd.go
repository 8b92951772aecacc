package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/plugbox/plugbox/jail"
)

// New returns the FreeBSD backend keeping its state under root (created
// 0700 when missing). Its logic is in jail_backend.go; this file only
// plugs in the real system calls.
func New(root string) (Backend, error) {
	b, err := newJailBackend(root, jail.HostSys())
	if err != nil {
		return nil, err
	}
	return b, nil
}

// KtraceLog returns the path of the ktrace file of a FreeBSD container
// created with a monitor (plugbox trace, or annotation org.plugbox.monitor
// "violations"), which jail.ParseKtrace reads.
func KtraceLog(root, id string) string { return filepath.Join(root, id, jailKtraceFile) }

// CapsicumViolations reads the ktrace file of container id (see KtraceLog);
// a container without one has recorded nothing.
func CapsicumViolations(root, id string) (*jail.Trace, error) {
	data, err := os.ReadFile(KtraceLog(root, id))
	if errors.Is(err, fs.ErrNotExist) {
		return &jail.Trace{}, nil
	}
	if err != nil {
		return nil, err
	}
	return jail.ParseKtrace(data)
}

// StartCgroupWarmup does nothing on FreeBSD: jails have no cgroups.
func StartCgroupWarmup() {}
