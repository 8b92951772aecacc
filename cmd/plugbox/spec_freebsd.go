package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/sandbox"
)

// starterSpec is a minimal FreeBSD bundle config: sh in rootfs/, run in a
// jail with the defaults of the freebsd.jail section.
func starterSpec(rootless bool) (*specs.Spec, error) {
	if rootless {
		return nil, sandbox.ErrUnsupported
	}
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "plugbox",
		Process: &specs.Process{
			Terminal: true,
			Args:     []string{"sh"},
			Env:      []string{"PATH=/sbin:/bin:/usr/sbin:/usr/bin", "TERM=xterm"},
			Cwd:      "/",
		},
		Mounts: []specs.Mount{{Destination: "/dev", Type: "devfs", Source: "devfs"}},
	}, nil
}
