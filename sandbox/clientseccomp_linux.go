package sandbox

import (
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/shimplan"
)

// A bundle a client sends (podman, containerd, a runc spec) with a seccomp
// profile and noNewPrivileges gets its filter from the exec shim, compiled
// once on the host and kept in the BPF cache, instead of from
// libcontainer, which compiles the profile with libseccomp in every
// container's init: for a Docker-sized profile that is most of the
// difference between runc and crun with seccomp. The filter is the same
// program (seccompgen compiles as runc does: unknown names skipped, newer
// calls ENOSYS) and applies to the same process: with noNewPrivileges runc
// too loads it after the capabilities are dropped, and the shim loads it
// later still, right before the plugin's execve, so a profile that works
// under runc works here. Otherwise libcontainer keeps the job, as in runc:
// without noNewPrivileges (the filter must be loaded with CAP_SYS_ADMIN,
// before the capabilities go), without /proc in the container (the shim
// is exec'd through /proc/self/fd), for a profile that notifies an agent
// (listenerPath, SCMP_ACT_NOTIFY: libcontainer hands it the listener), and
// for a process.args[0] the shim could only look up at start (under a
// mount, or missing, which runc reports at create).

// planClientSeccomp routes a client bundle's profile through the shim when
// that is safe; it leaves p as it is (libcontainer loads the profile)
// otherwise.
func (p *layerPlan) planClientSeccomp(opts CreateOptions, root string) {
	spec := opts.Spec
	if spec.Linux == nil || spec.Linux.Seccomp == nil || !spec.Process.NoNewPrivileges || !hasProcMount(spec) {
		return
	}
	profile := spec.Linux.Seccomp
	if profile.ListenerPath != "" || notifies(profile) || !inRootfs(opts.Bundle, spec) {
		return
	}
	sp, err := shimplan.New(root, spec, profile, nil, true)
	if err != nil || sp.Monitor() {
		// libcontainer loads it, or reports why not, as runc does.
		return
	}
	p.shim = sp
	p.exec = &execLayers{Seccomp: profile, Foreign: true, ClientSeccomp: true}
	p.enforced.Seccomp = "shim"
}

func notifies(profile *specs.LinuxSeccomp) bool {
	if profile.DefaultAction == specs.ActNotify {
		return true
	}
	for _, r := range profile.Syscalls {
		if r.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// inRootfs reports whether process.args[0] resolves, as the container
// would resolve it, to a file of the root filesystem itself.
func inRootfs(bundleDir string, spec *specs.Spec) bool {
	arg0 := spec.Process.Args[0]
	rootfs := bundle.RootfsPath(bundleDir, spec)
	var candidates []string
	switch {
	case filepath.IsAbs(arg0):
		candidates = []string{arg0}
	case containsSlash(arg0):
		candidates = []string{filepath.Join(spec.Process.Cwd, arg0)}
	default:
		for _, dir := range filepath.SplitList(lookupVar(spec.Process.Env, "PATH")) {
			if filepath.IsAbs(dir) {
				candidates = append(candidates, filepath.Join(dir, arg0))
			}
		}
	}
	for _, c := range candidates {
		if underMount(spec, c) {
			return false
		}
		inRoot, err := securejoin.SecureJoin(rootfs, c)
		if err != nil {
			continue
		}
		if st, err := os.Stat(inRoot); err == nil {
			// The first one that exists is what the shim would exec.
			return st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
		}
	}
	return false
}
