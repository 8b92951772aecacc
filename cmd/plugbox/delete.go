package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/sandbox"
)

// deleteCommand implements runtime.md "Delete": "Attempting to delete a
// container that is not stopped MUST have no effect on the container and MUST
// generate an error. Deleting a container MUST delete the resources that were
// created during the create step." --force kills a running container first.
// As runc's delete: what an interrupted create left (a state directory
// without state.json) is removed, with or without --force, and with --force
// a container that does not exist, or is deleted by a concurrent delete, is
// not an error.
var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped (or, with --force, any) container and its resources",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is running"},
	},
	Action: func(ctx *cli.Context) error {
		force := ctx.Bool("force")
		c, err := loadContainer(ctx)
		if err == nil {
			err = c.Delete(force)
		}
		if force && errors.Is(err, sandbox.ErrNotExist) {
			return nil
		}
		return err
	},
}
