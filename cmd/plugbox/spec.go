package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/atomicfile"
)

// specCommand writes a starter config.json, like runc spec; it never
// overwrites an existing one.
var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write a starter config.json into the bundle directory",
	Flags: []cli.Flag{
		bundleFlag,
		&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user (user namespace, no cgroups)"},
		&cli.StringFlag{Name: "plugin", Usage: "derive a hardened config from this plugin manifest (plugin.json)"},
		osFlag,
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() > 0 {
			return fmt.Errorf("spec: unexpected argument %q: use --bundle DIR", ctx.Args().First())
		}
		spec, err := starterSpec(ctx.Bool("rootless"))
		if path := ctx.String("plugin"); path != "" {
			m, merr := bundle.LoadManifest(path)
			if merr != nil {
				return merr
			}
			spec, err = authoredSpec(ctx.String("os"), m, bundle.CallerSpecOptions())
		}
		if err != nil {
			return err
		}
		path := filepath.Join(ctx.String("bundle"), bundle.ConfigName)
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return err
		}
		if err := atomicfile.Create(path, append(data, '\n'), 0o644); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("spec: %s already exists: remove it first, or pick another --bundle", path)
			}
			return fmt.Errorf("spec: %w", err)
		}
		return nil
	},
}
