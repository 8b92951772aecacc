package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/jail"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
)

// On FreeBSD, violations reads the container's ktrace file: the calls
// Capsicum refused (annotation org.plugbox.monitor "violations"), or would
// have refused (a plugbox trace container); and the broker's log of what
// it granted and refused. The verb's Linux action reads
// the seccomp monitor's log, so it is replaced here.
func init() {
	violationsCommand.Usage = "print the calls Capsicum refused in a container, and the broker's grants and refusals"
	violationsCommand.Action = capsicumViolations
}

func capsicumViolations(ctx *cli.Context) error {
	format := ctx.String("format")
	if format != "text" && format != "json" {
		return fmt.Errorf("--format %q: use text or json", format)
	}
	c, err := loadContainer(ctx)
	if err != nil {
		return err
	}
	printed, warned := 0, 0
	var brokerOffset int64
	for {
		tr, err := sandbox.CapsicumViolations(ctx.String("root"), c.ID())
		if err != nil {
			return err
		}
		vs := tr.Violations
		if after, ok := tr.AfterMarker(); ok {
			vs = after
		}
		if tr.Dropped > warned {
			fmt.Fprintf(os.Stderr, "plugbox: warning: the kernel dropped ktrace records %d time(s) (KTR_DROP); the list is incomplete\n", tr.Dropped)
			warned = tr.Dropped
		}
		for _, v := range vs[min(printed, len(vs)):] {
			if err := printViolation(v, format); err != nil {
				return err
			}
		}
		printed = max(printed, len(vs))
		// The broker's grants and refusals (annotation org.plugbox.broker).
		if brokerOffset, _, err = monitor.PrintLog(os.Stdout, sandbox.ViolationLog(ctx.String("root"), c.ID()), brokerOffset, format == "json"); err != nil {
			return err
		}
		if !ctx.Bool("follow") {
			return nil
		}
		st, err := c.State()
		if err != nil || st.Status == sandbox.StatusStopped {
			ctx.Set("follow", "false")
			continue // one last read
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func printViolation(v jail.Violation, format string) error {
	if format == "json" {
		return json.NewEncoder(os.Stdout).Encode(v)
	}
	_, err := fmt.Println(v)
	return err
}

// jailSummary renders grouped violations, one line each, for trace.
func jailSummary(vs []jail.Violation) []string {
	var out []string
	for _, c := range jail.Summarize(vs) {
		line := fmt.Sprintf("%5d× %s", c.Count, c.What())
		if c.Benign {
			line += " (rtld: harmless, it falls back to the pre-opened library directories)"
		}
		out = append(out, line)
	}
	return out
}
