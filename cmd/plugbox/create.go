package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/sandbox"
)

// createCommand implements runtime.md "Create": "This operation MUST create a
// new container ... the user-specified program (process.args) MUST NOT be run
// at this time", and MUST generate an error if the ID is not unique.
var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container from a bundle; its process waits for 'start'",
	ArgsUsage: "ID",
	Flags: append([]cli.Flag{
		bundleFlag,
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket that receives the pty master when process.terminal is true"},
	}, createFlags...),
	Action: func(ctx *cli.Context) error {
		c, _, err := createContainer(ctx, false)
		if err != nil {
			return err
		}
		_ = c // the init process waits on its exec fifo for 'start'
		return nil
	},
}

// createFlags are shared by create and run.
var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "pid-file", Usage: "write the container process's host PID to this file"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for a rootfs on a ramdisk)"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N descriptors beyond stdio (3 .. 3+N-1) to the process"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted for runc compatibility", Hidden: true},
}

// createContainer loads the --bundle, validates it and creates the container
// named by the first argument. foreground keeps the process a child of
// plugbox (run without --detach). It also returns the bundle's plugbox
// annotations, decoded.
func createContainer(ctx *cli.Context, foreground bool) (sandbox.Container, *bundle.Annotations, error) {
	id, err := containerArg(ctx)
	if err != nil {
		return nil, nil, err
	}
	dir, err := filepath.Abs(ctx.String("bundle"))
	if err != nil {
		return nil, nil, fmt.Errorf("--bundle %s: %w", ctx.String("bundle"), err)
	}
	spec, err := bundle.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	ann, err := bundle.ParseAnnotations(spec.Annotations)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	n := ctx.Int("preserve-fds")
	if n < 0 {
		return nil, nil, fmt.Errorf("--preserve-fds %d: must be 0 or more", n)
	}
	// A plugin bundle exports LISTEN_FDS for the descriptors its manifest
	// names; passing another number would mislead the plugin.
	if ann.FDNames != nil && len(ann.FDNames) != n {
		return nil, nil, fmt.Errorf("--preserve-fds %d: the bundle's config.json expects %d descriptor(s) (annotation %s: %q); pass exactly those, from fd 3 on", n, len(ann.FDNames), bundle.AnnotationFDNames, strings.Join(ann.FDNames, ":"))
	}
	pidFile := ctx.String("pid-file")
	if pidFile != "" {
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return nil, nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	b, err := backend(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := b.Create(sandbox.CreateOptions{
		ID:              id,
		Bundle:          dir,
		Spec:            spec,
		PidFile:         pidFile,
		ConsoleSocket:   ctx.String("console-socket"),
		NoPivot:         ctx.Bool("no-pivot"),
		PreserveFDs:     ctx.Int("preserve-fds"),
		Foreground:      foreground,
		Monitor:         ann.Monitor,
		Annotations:     ann,
		RootlessCgroups: rootlessCgroups(ctx),
	})
	return c, ann, err
}
