package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/sandbox"
)

// starterSpec is the minimal FreeBSD bundle config of bundle.FreeBSDStarterSpec.
func starterSpec(rootless bool) (*specs.Spec, error) {
	if rootless {
		return nil, sandbox.ErrUnsupported
	}
	return bundle.FreeBSDStarterSpec(), nil
}
