package main

import "github.com/urfave/cli/v2"

// startCommand implements runtime.md "Start": "This operation MUST generate
// an error if it is not provided the container ID. Attempting to start a
// container that is not created MUST have no effect on the container and MUST
// generate an error."
var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "run the process of a created container",
	ArgsUsage: "ID",
	Action: func(ctx *cli.Context) error {
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Start()
	},
}
