package main

import (
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
)

// osFlag is --os of bundle init and spec --plugin: the OS the authored
// bundle is for. A FreeBSD bundle has a freebsd.jail section, Capsicum and
// rctl limits instead of namespaces, seccomp and cgroups.
var osFlag = &cli.StringFlag{Name: "os", Value: runtime.GOOS, Usage: "OS the authored bundle runs on: linux or freebsd"}

// authoredSpec derives the hardened config.json of manifest m for goos.
func authoredSpec(goos string, m *bundle.Manifest, opts bundle.SpecOptions) (*specs.Spec, error) {
	switch goos {
	case "linux":
		return bundle.Spec(m, opts)
	case "freebsd":
		return bundle.FreeBSDSpec(m, opts)
	}
	return nil, fmt.Errorf("--os %q: use linux or freebsd", goos)
}

// initBundle writes a complete bundle for goos (see bundle.Init and
// bundle.InitFreeBSD).
func initBundle(goos, dir, exe string, m *bundle.Manifest, opts bundle.InitOptions) error {
	switch goos {
	case "linux":
		return bundle.Init(dir, exe, m, opts)
	case "freebsd":
		return bundle.InitFreeBSD(dir, exe, m, opts)
	}
	return fmt.Errorf("bundle init: --os %q: use linux or freebsd", goos)
}
