package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

// stateCommand implements runtime.md "Query State": "This operation MUST
// generate an error if it is not provided the ID of a container. Attempting
// to query a container that does not exist MUST generate an error. This
// operation MUST return the state of a container as specified in the State
// section."
var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print the OCI state of a container as JSON",
	ArgsUsage: "ID",
	Action: func(ctx *cli.Context) error {
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		st, err := c.State()
		if err != nil {
			return err
		}
		return writeJSON(os.Stdout, st)
	},
}
