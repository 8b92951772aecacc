package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// psCommand is runc's "ps": the host PIDs of a container's processes as
// JSON, or the host's ps output (ps ARGS, default -ef) for those processes.
var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container (host PIDs)",
	ArgsUsage: "ID [PS-ARGS...]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (the host's ps output) or json (PIDs)"},
	},
	Action: func(ctx *cli.Context) error {
		format := ctx.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("--format %q: use table or json", format)
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		if format == "json" {
			if pids == nil {
				pids = []int{}
			}
			return writeJSON(os.Stdout, pids)
		}
		psArgs := ctx.Args().Slice()[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).Output()
		if err != nil {
			return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
		}
		lines, err := psLinesOf(out, pids)
		if err != nil {
			return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
		}
		_, err = os.Stdout.Write(lines)
		return err
	},
}

// psLinesOf keeps ps's header and the lines whose PID column names one of
// pids.
func psLinesOf(out []byte, pids []int) ([]byte, error) {
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	col := -1
	for i, name := range strings.Fields(string(lines[0])) {
		if name == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("its output has no PID column: add -o pid or use -ef")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	var buf bytes.Buffer
	buf.Write(lines[0])
	buf.WriteByte('\n')
	for _, line := range lines[1:] {
		fields := strings.Fields(string(line))
		if col < len(fields) {
			if pid, err := strconv.Atoi(fields[col]); err == nil && in[pid] {
				buf.Write(line)
				buf.WriteByte('\n')
			}
		}
	}
	return buf.Bytes(), nil
}
