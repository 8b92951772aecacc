package shimplan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/shim"
)

// A process without no_new_privs can load a seccomp filter only while it
// holds CAP_SYS_ADMIN, which libcontainer takes away with the rest of the
// capabilities the config lacks before it execs the shim. For such a
// process libcontainer is given the config's capabilities plus
// loaderCaps, and the shim, once the filter is on, takes the process to the
// config's own (shim.Caps). The plugin's capabilities are then those runc
// would give it, and no call of libcontainer's runs under the filter.
//
// CAP_SETPCAP lets the shim drop CAP_SYS_ADMIN from the bounding set; it is
// added only when the config's bounding set lacks CAP_SYS_ADMIN, and is
// itself dropped by the shim when the config's bounding set lacks it.
func loaderCaps(c *configs.Capabilities) []string {
	extra := []string{"CAP_SYS_ADMIN"}
	if !slices.Contains(c.Bounding, "CAP_SYS_ADMIN") {
		extra = append(extra, "CAP_SETPCAP")
	}
	return extra
}

// CheckWithoutNoNewPrivs reports whether the shim can load sp's filter for
// a process without no_new_privs that runs as uid with caps
// (process.capabilities; nil leaves the process's capabilities alone, as
// libcontainer does): the filter must let the shim make the capset(2) that
// drops CAP_SYS_ADMIN, and a process other than root needs a capability
// configuration to carry CAP_SYS_ADMIN through the change of user.
func (sp *Plan) CheckWithoutNoNewPrivs(caps *configs.Capabilities, uid int) error {
	if sp.seccomp == nil {
		return nil
	}
	if caps == nil {
		if uid != 0 {
			return fmt.Errorf("process.user.uid %d without process.capabilities and without process.noNewPrivileges: the exec shim could not hold CAP_SYS_ADMIN to load the seccomp filter; set \"noNewPrivileges\": true or list the capabilities", uid)
		}
		return nil // root keeps its capabilities, CAP_SYS_ADMIN among them
	}
	return sp.check(unix.SYS_CAPSET, nil, "capset(2), with which the exec shim gives up CAP_SYS_ADMIN after loading the filter")
}

// withoutNoNewPrivs prepares process, whose filter the shim loads without
// no_new_privs: it widens process.Capabilities by loaderCaps and returns
// the sets the shim must end with (nil when the capabilities are left
// alone). fallback is the container's capabilities, which libcontainer
// applies when process.Capabilities is nil.
func (sp *Plan) withoutNoNewPrivs(process *libcontainer.Process, fallback *configs.Capabilities) (*shim.Caps, error) {
	caps := process.Capabilities
	if caps == nil {
		caps = fallback
	}
	if err := sp.CheckWithoutNoNewPrivs(caps, process.UID); err != nil {
		return nil, err
	}
	if caps == nil {
		return nil, nil
	}
	target, err := capMasks(caps)
	if err != nil {
		return nil, err
	}
	extra := loaderCaps(caps)
	process.Capabilities = &configs.Capabilities{
		Bounding:    union(caps.Bounding, extra),
		Effective:   union(caps.Effective, extra),
		Permitted:   union(caps.Permitted, extra),
		Inheritable: union(caps.Inheritable, extra),
		// Ambient, so that a process that is not root still holds them
		// after libcontainer's execve of the shim.
		Ambient: union(caps.Ambient, extra),
	}
	return target, nil
}

// capMasks turns capability names into the shim's bit masks the way
// libcontainer reads them: names this kernel does not have are left out
// (libcontainer warns about them and leaves them out too).
func capMasks(c *configs.Capabilities) (*shim.Caps, error) {
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("list this kernel's capabilities: %w", err)
	}
	bits := make(map[string]uint64, len(supported))
	for _, s := range supported {
		if s > 63 {
			return nil, errors.New("this kernel has capabilities above 63, which the exec shim does not know")
		}
		bits["CAP_"+strings.ToUpper(s.String())] = 1 << uint(s)
	}
	mask := func(names []string) uint64 {
		var m uint64
		for _, n := range names {
			m |= bits[n]
		}
		return m
	}
	return &shim.Caps{
		Effective:   mask(c.Effective),
		Permitted:   mask(c.Permitted),
		Inheritable: mask(c.Inheritable),
		Bounding:    mask(c.Bounding),
		Ambient:     mask(c.Ambient),
	}, nil
}

// union is set plus the names of extra it lacks, as a new slice.
func union(set, extra []string) []string {
	out := slices.Clone(set)
	for _, e := range extra {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
