package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
)

// checkCommand audits a bundle's config.json and lists its weaknesses with
// severity and fix; it exits 1 when any is high.
var checkCommand = &cli.Command{
	Name:      "check",
	Usage:     "audit a bundle's config.json for sandbox weaknesses",
	ArgsUsage: "BUNDLE",
	Action: func(ctx *cli.Context) error {
		dir := ctx.Args().First()
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, bundle.ConfigName)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		spec, err := bundle.Decode(path, data)
		if err != nil {
			return err
		}
		findings := bundle.Check(spec, dir)
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
