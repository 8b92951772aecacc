package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
)

// violationsCommand prints a container's seccomp violation log: every call
// its profile denied, with pid, syscall name and arguments, without auditd.
// Runs of identical calls are one line with a count; calls the monitor could
// only count (rate limit, size cap) are in "dropped" notices. The exit
// status is 1 when the log is incomplete: lines lost to a write failure, or
// a monitor that died or was stopped.
var violationsCommand = &cli.Command{
	Name:      "violations",
	Usage:     "print the system calls the seccomp profile denied in a container, and the broker's grants and refusals",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new violations until the container stops"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json (one JSON object per line)"},
	},
	Action: func(ctx *cli.Context) error {
		format := ctx.String("format")
		if format != "text" && format != "json" {
			return fmt.Errorf("--format %q: use text or json", format)
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		root, id := ctx.String("root"), c.ID()
		path := sandbox.ViolationLog(root, id)
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		var offset int64
		malformed := 0
		for {
			n, bad, err := monitor.PrintLog(out, path, offset, format == "json")
			if err != nil {
				return err
			}
			offset, malformed = n, malformed+bad
			if !ctx.Bool("follow") {
				break
			}
			if err := out.Flush(); err != nil {
				return err
			}
			st, err := c.State()
			if err != nil || st.Status == sandbox.StatusStopped {
				// The monitor writes its last counts as the plugin ends.
				sandbox.WaitMonitor(root, id, 5*time.Second)
				_, bad, err := monitor.PrintLog(out, path, offset, format == "json")
				malformed += bad
				if err != nil {
					return err
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := out.Flush(); err != nil {
			return err
		}
		stopped := false
		if st, err := c.State(); err == nil {
			stopped = st.Status == sandbox.StatusStopped
		}
		report, err := sandbox.ReadMonitorReport(root, id, stopped)
		if err != nil {
			return fmt.Errorf("violations %s: %w", id, err)
		}
		if report.Problem != "" {
			return fmt.Errorf("violations %s: the log is incomplete: %s", id, report.Problem)
		}
		if malformed > 0 {
			return fmt.Errorf("violations %s: %d line(s) of %s are damaged and were skipped", id, malformed, path)
		}
		return nil
	},
}
