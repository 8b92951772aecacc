package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
)

// runCommand is runc's "run": create then start; in the foreground it waits
// and exits with the process's status (128+N when killed by signal N), then
// deletes the container unless --keep.
var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, and wait for it unless --detach",
	ArgsUsage: "ID",
	Flags: append([]cli.Flag{
		bundleFlag,
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the stopped container (foreground only); delete it later"},
		&cli.StringFlag{Name: "console-socket", Usage: "with --detach: AF_UNIX socket that receives the pty master"},
	}, createFlags...),
	Action: func(ctx *cli.Context) error {
		foreground := !ctx.Bool("detach")
		c, ann, err := createContainer(ctx, foreground)
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			_ = c.Delete(true)
			return err
		}
		if !foreground {
			return nil
		}
		stopTimer := enforceTimeout(c, ann.Timeout)
		status, err := c.Wait()
		stopTimer()
		reportMonitor(ctx, c.ID())
		if !ctx.Bool("keep") {
			if derr := c.Delete(true); derr != nil && err == nil {
				err = derr
			}
		}
		if err != nil {
			return err
		}
		if status != 0 {
			return exitCode(status)
		}
		return nil
	},
}

// reportMonitor prints, after a foreground run, what the container's
// monitor process knows: which limit ended the plugin, a one-line summary of
// the calls the seccomp profile denied, and a warning when the violation log
// is incomplete. It streams the log, whatever its size.
func reportMonitor(ctx *cli.Context, id string) {
	root := ctx.String("root")
	report, err := sandbox.ReadMonitorReport(root, id, true)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: %s: warning: %v\n", id, err)
	}
	if report.End != nil {
		fmt.Fprintf(os.Stderr, "plugbox: %s: %s: the plugin was killed\n", id, report.End.Detail)
	}
	if f, err := os.Open(sandbox.ViolationLog(root, id)); err == nil {
		s, err := monitor.Summarize(f)
		f.Close()
		if err == nil && s.Denied > 0 {
			names := strings.Join(s.Names, ", ")
			if s.More > 0 {
				names += fmt.Sprintf(" and %d more", s.More)
			}
			counted := ""
			if s.Dropped > 0 {
				counted = fmt.Sprintf("; %d of them only counted, beyond the log's rate or size limit", s.Dropped)
			}
			where := "rerun with --keep, then 'plugbox violations " + id + "'"
			if ctx.Bool("keep") {
				where = "'plugbox violations " + id + "'"
			}
			fmt.Fprintf(os.Stderr, "plugbox: %s: seccomp denied %d system call(s): %s (details: %s%s)\n", id, s.Denied, names, where, counted)
		}
	}
	if report.Problem != "" {
		fmt.Fprintf(os.Stderr, "plugbox: %s: warning: %s\n", id, report.Problem)
	}
}

// enforceTimeout is a backstop for the wall-clock limit of annotation
// org.plugbox.timeout (0: none): where the backend's monitor process
// enforces it (Linux), it fires timeoutBackstop later, only if that process
// failed to. It returns the function that cancels the timer.
func enforceTimeout(c sandbox.Container, limit time.Duration) (stop func()) {
	if limit <= 0 {
		return func() {}
	}
	timer := time.AfterFunc(limit+timeoutBackstop, func() {
		if timeoutBackstop > 0 {
			fmt.Fprintf(os.Stderr, "plugbox: %s: wall-clock limit %s exceeded and the sandbox did not stop the plugin: killing it\n", c.ID(), limit)
		} else {
			fmt.Fprintf(os.Stderr, "plugbox: %s: wall-clock limit %s exceeded: killing the plugin\n", c.ID(), limit)
		}
		_ = c.Signal(syscall.SIGKILL, true)
	})
	return func() { timer.Stop() }
}
