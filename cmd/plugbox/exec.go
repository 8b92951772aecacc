package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/sandbox"
)

// execCommand is runc's "exec", which podman (through conmon) and
// containerd's shim call as `exec --process FILE --detach --pid-file FILE
// ID`. runtime.md defines no exec operation; this follows runc: the process
// joins the container's namespaces and cgroup, and in a plugbox sandbox it
// also gets the plugin's seccomp profile, Landlock ruleset and monitor.
var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run one more process in a created or running container",
	ArgsUsage: "ID COMMAND [ARG...]  |  --process FILE ID",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "JSON file holding the runtime-spec process to run (COMMAND is then not given)"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process runs"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's host PID to this file"},
		&cli.StringFlag{Name: "console-socket", Usage: "with --tty --detach: AF_UNIX socket that receives the pty master"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a pseudo-terminal"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add NAME=VALUE to the environment"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID] to run as"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "supplementary group IDs"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (not in a plugbox sandbox)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N descriptors beyond stdio (3 .. 3+N-1) to the process"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec into a paused container"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile of the process"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label of the process"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "not supported: plugbox runs exec'd processes in the container's own cgroup"},
	},
	Action: func(ctx *cli.Context) error {
		if err := runExec(ctx); err != nil {
			var code exitCode
			if errors.As(err, &code) {
				return err
			}
			// runc's exit status for an exec that could not start.
			return codedError{code: 255, err: err}
		}
		return nil
	},
}

func runExec(ctx *cli.Context) error {
	if len(ctx.StringSlice("cgroup")) > 0 {
		return errors.New("exec --cgroup: plugbox runs exec'd processes in the container's own cgroup; drop the flag")
	}
	sandbox.StartCgroupWarmup()
	c, err := loadContainer(ctx)
	if err != nil {
		return err
	}
	p, err := execProcessSpec(ctx, c)
	if err != nil {
		return err
	}
	if n := ctx.Int("preserve-fds"); n < 0 {
		return fmt.Errorf("--preserve-fds %d: must be 0 or more", n)
	}
	pidFile := ctx.String("pid-file")
	if pidFile != "" {
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return fmt.Errorf("--pid-file: %w", err)
		}
	}
	proc, err := c.Exec(sandbox.ExecOptions{
		Process:       p,
		PidFile:       pidFile,
		ConsoleSocket: ctx.String("console-socket"),
		Detach:        ctx.Bool("detach"),
		PreserveFDs:   ctx.Int("preserve-fds"),
		IgnorePaused:  ctx.Bool("ignore-paused"),
	})
	if err != nil {
		return err
	}
	if ctx.Bool("detach") {
		return nil
	}
	status, err := proc.Wait()
	if err != nil {
		return err
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// execProcessSpec builds the process to run: --process FILE as it is, or
// the bundle's process with COMMAND and the flags applied, as runc does.
func execProcessSpec(ctx *cli.Context, c sandbox.Container) (*specs.Process, error) {
	var p *specs.Process
	if path := ctx.String("process"); path != "" {
		if ctx.NArg() > 1 {
			return nil, errors.New("exec: give either --process FILE or COMMAND, not both")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		p = &specs.Process{}
		if err := json.Unmarshal(data, p); err != nil {
			return nil, fmt.Errorf("--process %s: not a runtime-spec process: %w", path, err)
		}
	} else {
		if ctx.NArg() < 2 {
			return nil, errors.New("exec: missing COMMAND: usage: plugbox exec ID COMMAND [ARG...], or plugbox exec --process FILE ID")
		}
		st, err := c.State()
		if err != nil {
			return nil, err
		}
		spec, err := bundle.Load(st.Bundle)
		if err != nil {
			return nil, err
		}
		p = spec.Process
		p.Args = ctx.Args().Slice()[1:]
	}
	if err := applyExecFlags(ctx, p); err != nil {
		return nil, err
	}
	if len(p.Args) == 0 {
		return nil, errors.New("exec: process.args is empty: name the program to run")
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if !filepath.IsAbs(p.Cwd) {
		return nil, fmt.Errorf("exec: cwd %q must be an absolute path", p.Cwd)
	}
	return p, nil
}

// applyExecFlags applies the flags that override the process, as runc does.
func applyExecFlags(ctx *cli.Context, p *specs.Process) error {
	if cwd := ctx.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.Env = append(p.Env, ctx.StringSlice("env")...)
	if ctx.IsSet("tty") {
		p.Terminal = ctx.Bool("tty")
	}
	if ctx.IsSet("no-new-privs") {
		p.NoNewPrivileges = ctx.Bool("no-new-privs")
	}
	if v := ctx.String("apparmor"); v != "" {
		p.ApparmorProfile = v
	}
	if v := ctx.String("process-label"); v != "" {
		p.SelinuxLabel = v
	}
	if caps := ctx.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, c := range caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, c)
			p.Capabilities.Effective = append(p.Capabilities.Effective, c)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, c)
		}
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, hasGID := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return fmt.Errorf("--user %q: use a numeric UID[:GID]", u)
		}
		p.User.UID = uint32(n)
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return fmt.Errorf("--user %q: use a numeric UID[:GID]", u)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range ctx.Int64Slice("additional-gids") {
		if g < 0 || g > 1<<32-1 {
			return fmt.Errorf("--additional-gids %d: not a group ID", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	return nil
}
