package main

import (
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/sandbox"
)

// exportProfile: seccomp filters exist only on Linux.
func exportProfile(*specs.LinuxSeccomp, io.Writer, string) error {
	return fmt.Errorf("seccomp export: %w: compile the filter on Linux", sandbox.ErrUnsupported)
}
