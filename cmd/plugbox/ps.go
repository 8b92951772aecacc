package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// psCommand lists the host PIDs of a container's processes.
var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container (host PIDs)",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
	},
	Action: func(ctx *cli.Context) error {
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		switch ctx.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return writeJSON(os.Stdout, pids)
		case "table":
			fmt.Println("PID")
			for _, pid := range pids {
				fmt.Println(pid)
			}
			return nil
		default:
			return fmt.Errorf("--format %q: use table or json", ctx.String("format"))
		}
	},
}
