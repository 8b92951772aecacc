package main

import "github.com/urfave/cli/v2"

// pauseCommand is runc's "pause" (podman pause, ctr task pause): it freezes
// every process of the container with the cgroup freezer. runtime.md
// defines no pause operation.
var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a container",
	ArgsUsage: "ID",
	Action: func(ctx *cli.Context) error {
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Pause()
	},
}
