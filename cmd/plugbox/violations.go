package main

import (
	"bytes"
	"encoding/json"
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
		path := sandbox.ViolationLog(ctx.String("root"), c.ID())
		var offset int64
		for {
			n, err := printViolations(path, offset, format)
			if err != nil {
				return err
			}
			offset = n
			if !ctx.Bool("follow") {
				return nil
			}
			st, err := c.State()
			if err != nil || st.Status == sandbox.StatusStopped {
				_, err := printViolations(path, offset, format)
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
	},
}

// printViolations prints the complete lines of the log from offset and
// returns the offset after them.
func printViolations(path string, offset int64, format string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return offset, nil // nothing denied (yet), or no monitor
		}
		return offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return offset, err
	}
	complete := bytes.LastIndexByte(data, '\n') + 1
	events, err := monitor.ReadLog(bytes.NewReader(data[:complete]))
	if err != nil {
		return offset, err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, e := range events {
		if format == "json" {
			if err := enc.Encode(e); err != nil {
				return offset, err
			}
			continue
		}
		fmt.Println(e)
	}
	return offset + int64(complete), nil
}
