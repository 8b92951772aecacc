package main

import (
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/sandbox"

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
		st, err := fullState(c)
		if err != nil {
			return err
		}
		return writeJSON(os.Stdout, st)
	},
}

// containerState is runc's state output: the OCI state plus the rootfs,
// the creation time and the owner, which go-runc (containerd) parses.
type containerState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// fullState returns c's state as runc prints it.
func fullState(c sandbox.Container) (*containerState, error) {
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	info, err := c.Info()
	if err != nil {
		return nil, err
	}
	return &containerState{State: *st, Rootfs: info.Rootfs, Created: info.Created, Owner: info.Owner}, nil
}
