package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
)

// checkCommand audits a bundle's config.json and lists its weaknesses with
// severity and fix, including properties the runtime spec does not define
// (runtimes ignore them); it exits 1 when any is high.
var checkCommand = &cli.Command{
	Name:      "check",
	Usage:     "audit a bundle's config.json for sandbox weaknesses",
	ArgsUsage: "BUNDLE",
	Action: func(ctx *cli.Context) error {
		dir := ctx.Args().First()
		if dir == "" {
			dir = "."
		}
		_, findings, err := bundle.CheckFile(dir)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		for _, f := range findings {
			fmt.Println(f)
		}
		worst := bundle.Worst(findings)
		if len(findings) == 0 {
			fmt.Println("no weaknesses found")
		}
		if worst >= bundle.High {
			return exitCode(1)
		}
		return nil
	},
}
