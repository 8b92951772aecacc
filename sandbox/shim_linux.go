package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
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
		if err := applySeccomp(cfg.Seccomp, cfg.NotifyFD); err != nil {
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

// applySeccomp loads the profile. Without a monitor it uses libcontainer's
// loader (which adds the -ENOSYS stub for syscalls newer than the profile).
// With one, the profile's default action is SCMP_ACT_NOTIFY, which runc's
// loader refuses (its own init writes to a pipe after loading); plugbox's
// shim only calls sendmsg, close and execve after loading, so it compiles
// the filter with seccompgen and sends the listener to the monitor.
func applySeccomp(s *specs.LinuxSeccomp, notifyFD int) error {
	if notifyFD < 0 {
		cfg, err := specconv.SetupSeccomp(s)
		if err != nil {
			return err
		}
		if _, err := seccomp.InitSeccomp(cfg); err != nil {
			return err
		}
		return nil
	}
	filter, err := seccompgen.Compile(withShimCalls(s, notifyFD))
	if err != nil {
		return err
	}
	if err := filter.SetNoNewPrivsBit(false); err != nil { // set by libcontainer already
		return err
	}
	if err := filter.Load(); err != nil {
		return fmt.Errorf("load filter: %w", err)
	}
	listener, err := filter.GetNotifFd()
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", err)
	}
	rights := unix.UnixRights(int(listener))
	if err := unix.Sendmsg(notifyFD, []byte{0}, rights, nil, 0); err != nil {
		return fmt.Errorf("send listener to the monitor: %w", err)
	}
	_ = unix.Close(int(listener))
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

// withShimCalls returns a copy of s that also allows shimRuntimeCalls and
// sendmsg on the monitor socket (to send the listener), each only where s
// does not already allow it unconditionally.
func withShimCalls(s *specs.LinuxSeccomp, notifyFD int) *specs.LinuxSeccomp {
	allowed := map[string]bool{}
	for _, rule := range s.Syscalls {
		if rule.Action == specs.ActAllow && len(rule.Args) == 0 {
			for _, name := range rule.Names {
				allowed[name] = true
			}
		}
	}
	out := *s
	out.Syscalls = append([]specs.LinuxSyscall(nil), s.Syscalls...)
	var extra []string
	for _, name := range shimRuntimeCalls {
		if !allowed[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: extra, Action: specs.ActAllow})
	}
	if !allowed["sendmsg"] {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:  []string{"sendmsg"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: uint64(notifyFD), Op: specs.OpEqualTo}},
		})
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
