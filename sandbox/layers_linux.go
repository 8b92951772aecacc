package sandbox

import (
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// layerPlan decides which protection layers plugbox applies itself (in the
// exec shim) on top of what libcontainer applies, and records them.
type layerPlan struct {
	enforced Layers
}

// Layers records what was really enforced for a container; `plugbox state`
// shows it so a user can check what protects a plugin.
type Layers struct {
	Seccomp  string `json:"seccomp"`            // "none", "libcontainer" or "plugbox"
	Landlock string `json:"landlock,omitempty"` // Landlock ABI version applied, or ""
}

func planLayers(opts CreateOptions) (*layerPlan, error) {
	p := &layerPlan{enforced: Layers{Seccomp: "none"}}
	if opts.Spec.Linux != nil && opts.Spec.Linux.Seccomp != nil {
		p.enforced.Seccomp = "libcontainer"
	}
	return p, nil
}

func (p *layerPlan) adjustConfig(*configs.Config) {}

func (p *layerPlan) adjustProcess(*libcontainer.Process) error { return nil }

func (p *layerPlan) afterStart(*libcontainer.Process) error { return nil }

func (p *layerPlan) record() Layers { return p.enforced }
