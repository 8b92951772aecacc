package main

import (
	"github.com/urfave/cli/v2"
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
		c, err := createContainer(ctx, foreground)
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
		status, err := c.Wait()
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
