package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

// featuresCommand prints the runtime-spec features document (features.md):
// what this build of plugbox supports on this platform.
var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the features this runtime supports, as runtime-spec features JSON",
	Action: func(ctx *cli.Context) error {
		return writeJSON(os.Stdout, platformFeatures(ctx.App.Version))
	},
}
