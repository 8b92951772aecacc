package main

import (
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/seccompgen"
)

// exportProfile compiles profile with libseccomp and writes it.
func exportProfile(profile *specs.LinuxSeccomp, w io.Writer, format string) error {
	return seccompgen.Export(profile, w, format)
}
