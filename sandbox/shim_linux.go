package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/seccompgen"
)

// The exec shim is plugbox itself, re-executed inside the finished sandbox
// (libcontainer execs /proc/self/exe, the sealed copy of this binary, instead
// of the plugin). It applies the layers that must come last and that
// libcontainer does not offer: Landlock, then the seccomp filter, and then
// execs the plugin. Loading the filter here, after libcontainer's own setup
// and the start handshake, means the profile filters only the plugin.
const (
	// ShimArg is argv[1] that makes main call ShimMain.
	ShimArg = "__plugbox-exec"
	// shimPath is what libcontainer execs inside the container.
	shimPath = "/proc/self/exe"
	// shimEnv carries the JSON shimConfig; the shim removes it before exec.
	shimEnv = "_PLUGBOX_SHIM"
)

// shimConfig is what the shim needs, passed through the environment.
type shimConfig struct {
	Args     []string               `json:"args"`
	Landlock *bundle.LandlockPolicy `json:"landlock,omitempty"`
	Seccomp  *specs.LinuxSeccomp    `json:"seccomp,omitempty"`
	// KeepFDs: descriptors below this number stay open across the exec
	// (stdio and --preserve-fds); every other one is closed.
	KeepFDs int `json:"keepFds"`
	// NotifyFD, when >= 0, is a socket on which the shim sends the seccomp
	// listener descriptor (violation log and learning mode).
	NotifyFD int `json:"notifyFd"`
	// ForeignProfile marks a profile plugbox did not author (Docker's,
	// podman's): names libseccomp does not know are skipped, as runc does.
	ForeignProfile bool `json:"foreignProfile,omitempty"`
}

// ShimMain runs the exec shim; it never returns. On any failure it exits 127
// with a message naming the layer, so a plugin never runs with a layer that
// was asked for and not applied.
func ShimMain() {
	err := runShim()
	fmt.Fprintf(os.Stderr, "plugbox: sandbox setup failed, plugin not started: %v\n", err)
	os.Exit(127)
}

func runShim() error {
	// Filters and Landlock rulesets apply to the calling thread; keep the
	// whole shim, and its execve, on one.
	runtime.LockOSThread()
	raw, ok := os.LookupEnv(shimEnv)
	if !ok {
		return errors.New("exec shim started without its configuration")
	}
	var cfg shimConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return fmt.Errorf("exec shim configuration: %w", err)
	}
	env := withoutVar(os.Environ(), shimEnv)
	if len(cfg.Args) == 0 {
		return errors.New("process.args is empty")
	}
	// PATH lookup uses the container's PATH from process.env.
	_ = os.Setenv("PATH", lookupVar(env, "PATH"))
	path, err := exec.LookPath(cfg.Args[0])
	if err != nil {
		return fmt.Errorf("process.args[0] %q: %w", cfg.Args[0], err)
	}
	if err := closeExtraFDs(cfg.KeepFDs, cfg.NotifyFD); err != nil {
		return err
	}
	if cfg.Landlock != nil {
		if err := applyLandlock(cfg.Landlock); err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
	}
	if cfg.Seccomp != nil {
		profile := cfg.Seccomp
		if cfg.ForeignProfile {
			profile, _ = seccompgen.WithoutUnknown(profile)
		}
		if err := applySeccomp(profile, cfg.NotifyFD); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
	}
	return unix.Exec(path, cfg.Args, env)
}

// closeExtraFDs marks every descriptor from keep upwards close-on-exec,
// except notifyFD, which the shim closes itself after use.
func closeExtraFDs(keep, notifyFD int) error {
	if notifyFD >= keep {
		if notifyFD > keep {
			if err := unix.CloseRange(uint(keep), uint(notifyFD-1), unix.CLOSE_RANGE_CLOEXEC); err != nil {
				return fmt.Errorf("close descriptors: %w", err)
			}
		}
		keep = notifyFD + 1
	}
	if err := unix.CloseRange(uint(keep), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close descriptors: %w", err)
	}
	return nil
}

// applyLandlock restricts file access to the policy's paths with the best
// ABI this kernel offers, and (ABI 6+) scopes abstract unix sockets and
// signals to the sandbox. A kernel without Landlock fails the start unless
// the policy is best-effort.
func applyLandlock(p *bundle.LandlockPolicy) error {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		if p.BestEffort {
			return nil
		}
		return fmt.Errorf("this kernel has no Landlock (needs Linux 5.13+ with lsm=landlock); set bestEffort in %s to run without it", bundle.AnnotationLandlock)
	}
	var rules []landlock.Rule
	for _, path := range p.ReadOnly {
		rules = append(rules, pathRule(path, false))
	}
	for _, path := range p.ReadWrite {
		rules = append(rules, pathRule(path, true))
	}
	// The standard character devices are writable everywhere (/dev/null).
	rules = append(rules, landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty").IgnoreIfMissing())
	if err := landlock.V7.BestEffort().RestrictPaths(rules...); err != nil {
		return err
	}
	if abi >= 6 {
		if err := landlock.V6.BestEffort().RestrictScoped(); err != nil {
			return fmt.Errorf("scoping: %w", err)
		}
	}
	return nil
}

// pathRule picks the directory or file form of a Landlock rule for path.
func pathRule(path string, write bool) landlock.Rule {
	isDir := true
	if st, err := os.Stat(path); err == nil {
		isDir = st.IsDir()
	}
	switch {
	case isDir && write:
		return landlock.RWDirs(path).IgnoreIfMissing()
	case isDir:
		return landlock.RODirs(path).IgnoreIfMissing()
	case write:
		return landlock.RWFiles(path).IgnoreIfMissing()
	default:
		return landlock.ROFiles(path).IgnoreIfMissing()
	}
}

// applySeccomp loads the profile with seccompgen.Load: the -ENOSYS stub
// for syscalls newer than the profile, and a foreign architecture (x32,
// i386) kills the whole process, not just the thread as runc's loader does.
// Unlike runc's loader it accepts SCMP_ACT_NOTIFY as the default action
// (runc's init must write(2) after loading; the shim only calls sendmsg,
// close and execve), and sends the listener to the monitor over notifyFD.
func applySeccomp(s *specs.LinuxSeccomp, notifyFD int) error {
	if notifyFD >= 0 {
		s = withShimCalls(s, notifyFD)
	}
	listener, err := seccompgen.Load(s)
	if err != nil {
		return err
	}
	if listener < 0 {
		return nil
	}
	if notifyFD < 0 {
		_ = unix.Close(listener)
		return errors.New("the profile uses SCMP_ACT_NOTIFY but no monitor is attached (set annotation org.plugbox.monitor)")
	}
	rights := unix.UnixRights(listener)
	if err := unix.Sendmsg(notifyFD, []byte{0}, rights, nil, 0); err != nil {
		return fmt.Errorf("send listener to the monitor: %w", err)
	}
	_ = unix.Close(listener)
	_ = unix.Close(notifyFD)
	return nil
}

// shimRuntimeCalls are what the shim (Go runtime threads included) may call
// between loading a notifying filter and the plugin's execve. Were they
// routed to the listener before it has reached the monitor, the shim would
// wait forever; they are harmless, so the plugin's profile gains them.
var shimRuntimeCalls = []string{
	"close", "execve", "exit", "exit_group", "futex", "nanosleep", "sched_yield",
	"madvise", "mmap", "munmap", "rt_sigreturn", "rt_sigprocmask", "sigaltstack",
	"getpid", "gettid", "tgkill", "clock_gettime",
}

// withShimCalls returns a copy of s in which shimRuntimeCalls are allowed
// and sendmsg on the monitor socket is allowed (to send the listener), so
// that nothing the shim does after loading waits on the listener it has not
// yet sent. Any other sendmsg keeps the action s gave it.
func withShimCalls(s *specs.LinuxSeccomp, notifyFD int) *specs.LinuxSeccomp {
	runtimeCall := map[string]bool{}
	for _, name := range shimRuntimeCalls {
		runtimeCall[name] = true
	}
	out := *s
	out.Syscalls = nil
	sendmsgAction := s.DefaultAction
	sendmsgErrno := s.DefaultErrnoRet
	for _, rule := range s.Syscalls {
		var names []string
		for _, name := range rule.Names {
			switch {
			case runtimeCall[name] && rule.Action != specs.ActAllow:
				// dropped: allowed below
			case name == "sendmsg" && len(rule.Args) == 0:
				sendmsgAction, sendmsgErrno = rule.Action, rule.ErrnoRet
			default:
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			rule.Names = names
			out.Syscalls = append(out.Syscalls, rule)
		}
	}
	out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: shimRuntimeCalls, Action: specs.ActAllow})
	fdIs := func(op specs.LinuxSeccompOperator) []specs.LinuxSeccompArg {
		return []specs.LinuxSeccompArg{{Index: 0, Value: uint64(notifyFD), Op: op}}
	}
	out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: []string{"sendmsg"}, Action: specs.ActAllow, Args: fdIs(specs.OpEqualTo)})
	if sendmsgAction != specs.ActAllow {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: []string{"sendmsg"}, Action: sendmsgAction, ErrnoRet: sendmsgErrno, Args: fdIs(specs.OpNotEqual)})
	}
	return &out
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func lookupVar(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
