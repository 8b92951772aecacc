//go:build !linux

package hooks

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// RecorderArg is argv[1] of the record hook's recorder (Linux only).
const RecorderArg = "__plugbox-recorder"

// DefaultRecordDir is where the record hook writes on Linux.
const DefaultRecordDir = "/run/plugbox/records"

// RecordOptions configures the record hook.
type RecordOptions struct {
	Dir string
}

// Record is Linux's: seccomp and the kernel's audit records. On FreeBSD,
// 'plugbox trace' and 'plugbox violations' report Capsicum's refusals.
func Record(io.Reader, RecordOptions) (string, error) {
	return "", errors.New("plugbox hook record reads Linux's seccomp audit records; on FreeBSD use 'plugbox violations' (Capsicum) instead")
}

// RecorderMain exits: there is no recorder off Linux.
func RecorderMain() {
	fmt.Fprintln(os.Stderr, "plugbox: the seccomp recorder runs on Linux only")
	os.Exit(2)
}
