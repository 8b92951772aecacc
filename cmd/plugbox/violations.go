package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
			n, bad, err := printViolations(out, path, offset, format)
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
				waitMonitor(root, id, 5*time.Second)
				_, bad, err := printViolations(out, path, offset, format)
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

// printViolations prints the complete lines of the log from offset, one
// record at a time, and returns the offset after them and how many lines
// were not records.
func printViolations(out io.Writer, path string, offset int64, format string) (int64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return offset, 0, nil // nothing denied (yet), or no monitor
		}
		return offset, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, 0, err
	}
	rd := monitor.NewReader(f)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return offset + rd.Offset(), rd.Malformed(), fmt.Errorf("read %s: %w", path, err)
		}
		if format == "json" {
			_, err = out.Write(rd.Line())
		} else {
			_, err = fmt.Fprintln(out, rec)
		}
		if err != nil {
			return offset + rd.Offset(), rd.Malformed(), err
		}
	}
	return offset + rd.Offset(), rd.Malformed(), nil
}

// waitMonitor waits up to timeout for the container's monitor process to
// finish writing.
func waitMonitor(root, id string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r, err := sandbox.ReadMonitorReport(root, id, true); err != nil || !r.Active {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
