package main

import (
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// starterSpec is runc's example config (sh in rootfs/, new pid, network,
// ipc, uts, mount and cgroup namespaces), made rootless on request.
func starterSpec(rootless bool) (*specs.Spec, error) {
	spec := specconv.Example()
	if rootless {
		specconv.ToRootless(spec)
	}
	return spec, nil
}
