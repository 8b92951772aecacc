package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
)

// libcontainer runs a config's poststart hooks when it starts the init
// process, which is plugbox's create, and stops at a poststart or poststop
// hook that fails. The runtime-spec's lifecycle (runtime.md) wants them
// elsewhere: poststart hooks after the user-specified program is executed,
// before start returns (step 9); poststop hooks after the container is
// destroyed, each one run even when another fails, with a warning (step 13).
// So plugbox takes both lists out of libcontainer's config at create, keeps
// them in lateHooksName, and runs them itself in Start and Delete.
//
// A failing poststart hook: runtime-spec 1.3.0 (#1262) made it an error that
// stops the container; before, a warning after which the lifecycle goes on.
// plugbox follows the version the bundle's ociVersion names.

// lateHooksName is the file in the container's directory that holds them.
const lateHooksName = "hooks.json"

// lateHooks are the hooks plugbox runs itself.
type lateHooks struct {
	// OCIVersion is the bundle's ociVersion.
	OCIVersion string       `json:"ociVersion"`
	Poststart  []specs.Hook `json:"poststart,omitempty"`
	Poststop   []specs.Hook `json:"poststop,omitempty"`
}

// takeLateHooks removes the poststart and poststop hooks from config and
// returns them from spec (nil when there are none).
func takeLateHooks(config *configs.Config, spec *specs.Spec) *lateHooks {
	delete(config.Hooks, configs.Poststart)
	delete(config.Hooks, configs.Poststop)
	if spec.Hooks == nil || len(spec.Hooks.Poststart)+len(spec.Hooks.Poststop) == 0 {
		return nil
	}
	return &lateHooks{OCIVersion: spec.Version, Poststart: spec.Hooks.Poststart, Poststop: spec.Hooks.Poststop}
}

func writeLateHooks(dir string, h *lateHooks) error {
	if h == nil {
		return nil
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, lateHooksName), data, 0o600)
}

// readLateHooks returns the container's hooks, or nil when it has none.
func readLateHooks(dir string) (*lateHooks, error) {
	data, err := os.ReadFile(filepath.Join(dir, lateHooksName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h lateHooks
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, lateHooksName), err)
	}
	return &h, nil
}

// poststartFailureStops reports whether a failing poststart hook is an error
// that stops the container: from runtime-spec 1.3.0 on.
func (h *lateHooks) poststartFailureStops() bool {
	major, rest, _ := strings.Cut(h.OCIVersion, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(minor, func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true // not a version: the current rule
	}
	return ma > 1 || ma == 1 && mi >= 3
}

// runHook runs one hook with the container's state on its stdin, as
// libcontainer runs the others.
func runHook(h specs.Hook, state *specs.State) error {
	cmd := &configs.Command{Path: h.Path, Args: h.Args, Env: h.Env}
	if h.Timeout != nil {
		d := time.Duration(*h.Timeout) * time.Second
		cmd.Timeout = &d
	}
	return cmd.Run(state)
}

// runPoststart runs the poststart hooks once the program is executed. A
// failure is a warning (ociVersion before 1.3.0) or, from 1.3.0 on, an
// error after which the container is killed.
func (lc *linuxContainer) runPoststart(h *lateHooks, initExe string) error {
	if h == nil || len(h.Poststart) == 0 {
		return nil
	}
	waitExecuted(lc.c, initExe, 2*time.Second, 200*time.Millisecond)
	state, err := lc.c.OCIState()
	if err != nil {
		return fmt.Errorf("start %s: state for the poststart hooks: %w", lc.ID(), err)
	}
	for i, hook := range h.Poststart {
		err := runHook(hook, state)
		if err == nil {
			continue
		}
		if !h.poststartFailureStops() {
			logrus.Warnf("start %s: poststart hook #%d (%s) failed, going on as runtime-spec %s says: %v", lc.ID(), i, hook.Path, h.OCIVersion, err)
			continue
		}
		_ = lc.c.Signal(unix.SIGKILL)
		return fmt.Errorf("start %s: poststart hook #%d (%s): %w (the container is stopped; delete it)", lc.ID(), i, hook.Path, err)
	}
	return nil
}

// runPoststop runs every poststop hook with the container's last state;
// one that fails is a warning and the others still run.
func runPoststop(id string, h *lateHooks, state *specs.State) {
	if h == nil || state == nil {
		return
	}
	state.Status = specs.StateStopped
	for i, hook := range h.Poststop {
		if err := runHook(hook, state); err != nil {
			logrus.Warnf("delete %s: poststop hook #%d (%s) failed: %v", id, i, hook.Path, err)
		}
	}
}

// initExecutable is what the init process executes now: libcontainer's
// runtime binary while it waits on the exec fifo.
func initExecutable(c *libcontainer.Container) string {
	st, err := c.State()
	if err != nil {
		return ""
	}
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(st.InitProcessPid) + "/exe")
	return exe
}

// waitExecuted waits, at most timeout, until the init process no longer
// executes initExe nor the exec shim: it has executed the user-specified
// program (or exited, or cannot be looked at). Then it gives the program
// up to settle to get going: until it first sleeps (waits for input, a
// child or a timer) or exits, so that a poststart hook sees what the
// program did right away, as the OCI suite's poststart test checks. A
// program that never sleeps costs start that much.
func waitExecuted(c *libcontainer.Container, initExe string, timeout, settle time.Duration) {
	st, err := c.State()
	if err != nil || initExe == "" {
		return
	}
	proc := "/proc/" + strconv.Itoa(st.InitProcessPid)
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
		exe, err := os.Readlink(proc + "/exe")
		if err != nil {
			return // gone, or not ours to look at
		}
		if exe != initExe && !strings.HasPrefix(exe, "/memfd:plugbox-shim") {
			break
		}
		if time.Now().After(deadline) {
			return
		}
	}
	for deadline := time.Now().Add(settle); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		stat, err := os.ReadFile(proc + "/stat")
		if err != nil {
			return
		}
		// "pid (comm) STATE ...": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) {
			return
		}
		if state := stat[i+2]; state == 'S' || state == 'Z' || state == 'X' || state == 'T' || state == 't' {
			return
		}
	}
}

// HookStateArg is the argument with which plugbox re-executes itself (as
// "plugbox HookStateArg PATH ARGS...") in place of a prestart hook, to run
// it with the state the runtime-spec gives it. libcontainer passes every
// create-time hook the status "creating"; prestart hooks run after the
// runtime environment is created (lifecycle step 3), when the spec's state
// is "created" ("after step 2"), which is what runtime-spec 1.0.2, where
// prestart hooks are defined, and crun give them.
const HookStateArg = "__prestart-hook"

// wrapPrestartHooks makes every prestart hook of config run through
// HookStateMain, with its own path, arguments, environment and timeout.
func wrapPrestartHooks(config *configs.Config) {
	for i, h := range config.Hooks[configs.Prestart] {
		ch, ok := h.(configs.CommandHook)
		if !ok || ch.Command == nil {
			continue
		}
		c := *ch.Command
		args := c.Args
		if len(args) == 0 {
			args = []string{c.Path}
		}
		// libcontainer runs the hooks in this process, plugbox's create.
		c.Args = append([]string{"plugbox", HookStateArg, c.Path}, args...)
		c.Path = "/proc/self/exe"
		config.Hooks[configs.Prestart][i] = configs.NewCommandHook(&c)
	}
}

// HookStateMain is the body of a re-execution with HookStateArg: it reads
// the state on stdin, sets its status to "created" and execs the hook with
// that state on its stdin. It does not return.
func HookStateMain() {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "plugbox: prestart hook: %v\n", err)
		os.Exit(127)
	}
	if len(os.Args) < 4 {
		fail(errors.New("usage: plugbox " + HookStateArg + " PATH ARG0 [ARG...] (plugbox runs it; it is not a command)"))
	}
	var state map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&state); err != nil {
		fail(fmt.Errorf("read the container state on stdin: %w", err))
	}
	state["status"] = specs.StateCreated
	data, err := json.Marshal(state)
	if err != nil {
		fail(err)
	}
	// A memfd, not a pipe: a large state cannot block the write.
	fd, err := unix.MemfdCreate("prestart-state", 0)
	if err == nil {
		_, err = unix.Write(fd, data)
	}
	if err == nil {
		_, err = unix.Seek(fd, 0, 0)
	}
	if err == nil {
		err = unix.Dup2(fd, 0)
	}
	if err != nil {
		fail(fmt.Errorf("hand the state to the hook: %w", err))
	}
	unix.Close(fd)
	path := os.Args[2]
	fail(fmt.Errorf("exec %s: %w", path, unix.Exec(path, os.Args[3:], os.Environ())))
}
