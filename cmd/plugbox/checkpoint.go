package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// checkpointCommand and restoreCommand answer runc's CRIU verbs: plugbox
// does not checkpoint sandboxes (a restored plugin would resume outside the
// layers plugbox applies at start), so each says so in one line.
var checkpointCommand = &cli.Command{
	Name:            "checkpoint",
	Usage:           "not supported: plugbox does not checkpoint containers",
	ArgsUsage:       "ID",
	SkipFlagParsing: true,
	Action: func(ctx *cli.Context) error {
		if wantsHelp(ctx) {
			return cli.ShowSubcommandHelp(ctx)
		}
		return errors.New("checkpoint: not supported by plugbox (no CRIU integration); stop the container and start it again instead")
	},
}

var restoreCommand = &cli.Command{
	Name:            "restore",
	Usage:           "not supported: plugbox does not restore checkpoints",
	ArgsUsage:       "ID",
	SkipFlagParsing: true,
	Action: func(ctx *cli.Context) error {
		if wantsHelp(ctx) {
			return cli.ShowSubcommandHelp(ctx)
		}
		return errors.New("restore: not supported by plugbox (no CRIU integration); create the container again instead")
	},
}

// wantsHelp reports --help or -h among the arguments of a verb that parses
// no flags.
func wantsHelp(ctx *cli.Context) bool {
	for _, a := range ctx.Args().Slice() {
		if a == "--help" || a == "-h" {
			return true
		}
	}
	return false
}
