package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/trace"
	"github.com/plugbox/plugbox/monitor"
)

// A plugbox-authored plugin that can make no socket joins one empty
// network namespace that plugbox keeps for all of them, instead of making
// its own: creating a network namespace costs about a millisecond and takes
// kernel-wide locks (its teardown more: ioi/isolate#34), which a host that
// starts a sandbox per request pays at every start.
//
// Sharing is safe only when nothing a plugin can do reaches what a network
// namespace scopes. Landlock ABI 6 scoping stops one plugin connecting to
// another's abstract unix socket, but not binding the same name (the
// second bind fails with EADDRINUSE: a channel between plugins and a way to
// deny another its name), nor netlink between plugins (see the shim's
// TestLandlockScopingBetweenPluginsInOneNetworkNamespace). So a plugin
// shares only when its filter denies socket(2), socketpair(2) and io_uring
// for every argument, whatever its Landlock: without a socket there is
// nothing to bind, connect or listen to in the namespace. The namespace has
// only its loopback device, down; it is owned by plugbox's (the host's) user
// namespace, so the root of a plugin's user namespace cannot configure it.
//
// It is a bind mount at sharedNetnsPath, made on first use (root only) and
// kept, like `ip netns add`: `umount /run/plugbox-netns/none` removes it.

// sharedNetnsDir holds the shared namespace; it is the host's, not a state
// root's, as the namespace is shared by every plugbox on the host.
var sharedNetnsDir = "/run/plugbox-netns"

const sharedNetnsName = "none"

// socketCalls are what creates a socket or a ring that could make one.
var socketCalls = []string{"socket", "socketpair", "io_uring_setup", "io_uring_enter", "io_uring_register"}

// planSharedNetns decides whether the plugin joins the shared namespace;
// the caller has checked that the bundle is plugbox-authored. Where the
// namespace cannot be had the plugin gets its own, as without sharing.
func (p *layerPlan) planSharedNetns(opts CreateOptions) {
	spec := opts.Spec
	if os.Geteuid() != 0 || spec.Linux == nil || !ownNetworkNamespace(spec.Linux.Namespaces) {
		return
	}
	// Learning mode lets the calls the profile denies run.
	if p.monitor == monitor.Learning || !deniesSockets(spec.Linux.Seccomp) {
		return
	}
	path, err := sharedNetns()
	if err != nil {
		trace.Mark("create: no shared network namespace, a new one instead: " + err.Error())
		return
	}
	p.netns = path
	p.enforced.Network = "shared"
}

// ownNetworkNamespace reports a new (not joined) network namespace.
func ownNetworkNamespace(ns []specs.LinuxNamespace) bool {
	for _, n := range ns {
		if n.Type == specs.NetworkNamespace {
			return n.Path == ""
		}
	}
	return false
}

// deniesSockets reports a profile that answers every call of socketCalls
// with an error or a kill, for every argument: its default action does
// and no rule that names one of them does anything else.
func deniesSockets(profile *specs.LinuxSeccomp) bool {
	if profile == nil || !denies(profile.DefaultAction) {
		return false
	}
	for _, rule := range profile.Syscalls {
		if denies(rule.Action) {
			continue
		}
		for _, name := range rule.Names {
			for _, call := range socketCalls {
				if name == call {
					return false
				}
			}
		}
	}
	return true
}

func denies(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
		return true
	}
	return false
}

// adjustNetns points the configuration's network namespace at the shared
// one and drops the loopback setup libcontainer plans for a new namespace.
func (p *layerPlan) adjustNetns(config *configs.Config) {
	if p.netns == "" {
		return
	}
	for i := range config.Namespaces {
		if config.Namespaces[i].Type == configs.NEWNET {
			config.Namespaces[i].Path = p.netns
		}
	}
	var networks []*configs.Network
	for _, n := range config.Networks {
		if n.Type != "loopback" {
			networks = append(networks, n)
		}
	}
	config.Networks = networks
}

// sharedNetns returns the shared namespace's path, making it when missing.
func sharedNetns() (string, error) {
	path := filepath.Join(sharedNetnsDir, sharedNetnsName)
	if err := checkSharedNetns(path); err == nil {
		return path, nil
	}
	if err := os.Mkdir(sharedNetnsDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if err := checkNetnsDir(); err != nil {
		return "", err
	}
	lock, err := os.Open(sharedNetnsDir)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", sharedNetnsDir, err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if err := checkSharedNetns(path); err == nil {
		return path, nil // another create made it meanwhile
	} else if isNamespace(path) {
		// Something else is mounted there: never stack another on it.
		return "", err
	}
	if err := makeNetns(path); err != nil {
		return "", err
	}
	if err := checkSharedNetns(path); err != nil {
		return "", err
	}
	return path, nil
}

// makeNetns mounts a new, empty network namespace at path. The namespace
// is made on a thread of its own, which is thrown away afterwards.
func makeNetns(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	done := make(chan error)
	go func() { done <- unshareOnOwnThread(path) }()
	return <-done
}

// unshareOnOwnThread does unshare(CLONE_NEWNET) and the bind mount on a
// locked thread that is not the main one: Go ends a thread whose locked
// goroutine returns, but keeps the main thread, whose namespaces are the
// process's in /proc/self.
func unshareOnOwnThread(path string) error {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	if unix.Gettid() == unix.Getpid() {
		// Hold the main thread so the work lands on another one.
		done := make(chan error)
		go func() { done <- unshareOnOwnThread(path) }()
		err := <-done
		runtime.UnlockOSThread()
		return err
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount the network namespace on %s: %w", path, err)
	}
	return nil
}

// checkSharedNetns accepts path only as a network namespace owned by this
// process's user namespace that is not this process's network namespace,
// in a directory only root can change.
func checkSharedNetns(path string) error {
	if err := checkNetnsDir(); err != nil {
		return err
	}
	if !isNamespace(path) {
		return fmt.Errorf("%s is not a namespace", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	kind, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || kind != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is not a network namespace", path)
	}
	owner, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		return fmt.Errorf("%s: owner: %w", path, err)
	}
	defer unix.Close(owner)
	if !sameFile(owner, "/proc/self/ns/user") {
		return fmt.Errorf("%s is not owned by plugbox's user namespace", path)
	}
	// Not the namespace plugbox runs in (nor PID 1's, where /proc lets us
	// look).
	for _, other := range []string{"/proc/self/ns/net", "/proc/1/ns/net"} {
		if sameFile(int(f.Fd()), other) {
			return fmt.Errorf("%s is the host's network namespace", path)
		}
	}
	return nil
}

// isNamespace reports a namespace file (nsfs) at path.
func isNamespace(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.NSFS_MAGIC
}

// checkNetnsDir accepts sharedNetnsDir as a directory of root, mode 0700.
func checkNetnsDir() error {
	var st unix.Stat_t
	if err := unix.Lstat(sharedNetnsDir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s is not a directory of root with mode 0700 (uid %d, mode %o)", sharedNetnsDir, st.Uid, st.Mode&0o7777)
	}
	return nil
}

func sameFile(fd int, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
