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
		stopTimer := enforceTimeout(ctx, c, ann.Timeout)
		status, err := c.Wait()
		stopTimer()
		reportLimits(c)
		reportViolations(ctx, c.ID())
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

// reportLimits prints, in one line each, which limit ended the plugin and
// which refused it something, as the container's state records them.
func reportLimits(c sandbox.Container) {
	st, err := c.State()
	if err != nil {
		return
	}
	for _, key := range []string{sandbox.AnnotationEnded, sandbox.AnnotationConstrained} {
		if v := st.Annotations[key]; v != "" {
			_, detail, _ := strings.Cut(v, ": ")
			fmt.Fprintf(os.Stderr, "plugbox: %s: %s\n", c.ID(), detail)
		}
	}
}

// reportViolations prints a one-line summary of the calls the seccomp
// profile denied, when the monitor logged any.
func reportViolations(ctx *cli.Context, id string) {
	f, err := os.Open(sandbox.ViolationLog(ctx.String("root"), id))
	if err != nil {
		return
	}
	defer f.Close()
	events, _ := monitor.ReadLog(f)
	names, total := monitor.Summary(events)
	if total == 0 {
		return
	}
	where := "rerun with --keep, then 'plugbox violations " + id + "'"
	if ctx.Bool("keep") {
		where = "'plugbox violations " + id + "'"
	}
	fmt.Fprintf(os.Stderr, "plugbox: %s: seccomp denied %d system call(s): %s (details: %s)\n", id, total, strings.Join(names, ", "), where)
}

// enforceTimeout kills every process of the container when the wall-clock
// limit of annotation org.plugbox.timeout (0: none) passes, recording
// that the limit ended the plugin. It returns the function that cancels
// the timer.
func enforceTimeout(ctx *cli.Context, c sandbox.Container, limit time.Duration) (stop func()) {
	if limit <= 0 {
		return func() {}
	}
	timer := time.AfterFunc(limit, func() {
		end := sandbox.End{Cause: sandbox.CauseTimeout, Detail: "killed by the wall-clock limit (" + limit.String() + ")"}
		if err := sandbox.RecordEnd(ctx.String("root"), c.ID(), end); err != nil {
			fmt.Fprintf(os.Stderr, "plugbox: %s: %s: %v\n", c.ID(), end.Detail, err)
		}
		_ = c.Signal(syscall.SIGKILL, true)
	})
	return func() { timer.Stop() }
}
