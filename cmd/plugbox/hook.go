package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/hooks"
)

// hookCommand runs one of the OCI hooks plugbox ships (package hooks), as
// a runtime calls it from config.json: runtime-spec "Hooks" says a hook
// receives the container's state on stdin and that a failing createRuntime
// hook stops the create ("MUST ... generate an error"). Example entry:
//
//	"hooks": {"createRuntime": [{"path": "/usr/local/bin/plugbox", "args": ["plugbox", "hook", "check"]}]}
var hookCommand = &cli.Command{
	Name:  "hook",
	Usage: "OCI hooks for any runtime's config.json (the state on standard input)",
	Subcommands: []*cli.Command{
		{
			Name:  "check",
			Usage: "createRuntime hook: refuse a container whose config.json 'plugbox check' rates HIGH (findings on standard error)",
			Action: func(ctx *cli.Context) error {
				if err := hooks.Check(os.Stdin, os.Stderr); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return exitCode(1)
				}
				return nil
			},
		},
		{
			Name:  "record",
			Usage: "createRuntime hook: record the calls the kernel reports the container's seccomp filter denying, as JSON lines in DIR/ID.jsonl",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Value: hooks.DefaultRecordDir, Usage: "directory for ID.jsonl (created 0700)"},
			},
			Action: func(ctx *cli.Context) error {
				if _, err := hooks.Record(os.Stdin, hooks.RecordOptions{Dir: ctx.String("dir")}); err != nil {
					fmt.Fprintln(os.Stderr, "plugbox hook record:", err)
					return exitCode(1)
				}
				return nil
			},
		},
	},
}
