package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/learn"
)

// traceCommand is learning mode: it runs the plugin under a filter that
// allows only the "base" group and sends every other call to the monitor,
// which records it and lets it continue; at exit it writes the smallest
// default-deny profile (permission groups plus single calls) covering what
// the plugin really did.
var traceCommand = &cli.Command{
	Name:      "trace",
	Usage:     "learn a minimal seccomp profile by running the plugin once",
	ArgsUsage: "[-- ARGS...]",
	Flags: []cli.Flag{
		bundleFlag,
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the learned linux.seccomp JSON here (default: standard output)"},
		&cli.BoolFlag{Name: "apply", Usage: "also replace linux.seccomp in the bundle's config.json with the learned profile"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N descriptors beyond stdio (3 .. 3+N-1) to the plugin"},
		holdFlag,
		statusFileFlag,
	},
	Description: `--hold-fd N names a stream socket inherited on descriptor N (after the
   --preserve-fds descriptors): end-of-file on it kills the plugin, and trace
   then fails without writing a profile.

   ` + statusHelp + `
   For trace the record also has "learned": {"groups", "extra", "network",
   "distinct"}; "violations" is absent.`,
	Action: func(ctx *cli.Context) error {
		rec, err := newStatusRecorder(ctx)
		if err != nil {
			return err
		}
		return rec.finish(trace(ctx, rec))
	},
}

// trace is trace's work (package learn); rec, when not nil, records what
// was learned.
func trace(ctx *cli.Context, rec *statusRecorder) error {
	dir, err := filepath.Abs(ctx.String("bundle"))
	if err != nil {
		return err
	}
	spec, err := bundle.Load(dir)
	if err != nil {
		return err
	}
	ann, err := bundle.ParseAnnotations(spec.Annotations)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	n := ctx.Int("preserve-fds")
	if err := ann.CheckFDs(n); err != nil {
		return fmt.Errorf("--preserve-fds %d: %w", n, err)
	}
	hold, err := openHold(ctx)
	if err != nil {
		return err
	}
	defer hold.close()
	b, err := backend(ctx)
	if err != nil {
		return err
	}
	run, cancel := context.WithCancel(context.Background())
	defer cancel()
	if hold != nil {
		defer hold.watch(cancel)()
	}
	res, err := learn.Run(run, b, learn.Options{
		ID: "trace-" + strconv.Itoa(os.Getpid()), Root: ctx.String("root"),
		Bundle: dir, Spec: spec, Args: ctx.Args().Slice(), PreserveFDs: n,
	})
	if errors.Is(err, learn.ErrCancelled) {
		return fmt.Errorf("trace: the --hold-fd caller closed its end: %w", err)
	}
	if err != nil {
		return err
	}
	o := res.Options
	if rec == nil { // else the status file says it
		fmt.Fprintf(os.Stderr, "plugbox: trace: plugin exited with status %d; %d distinct calls beyond \"base\"; learned groups [%s], extra calls [%s], network %s\n",
			res.Status, res.Distinct, strings.Join(o.Groups, " "), strings.Join(o.Extra, " "), o.Network)
		if res.Status != 0 {
			fmt.Fprintln(os.Stderr, "plugbox: trace: warning: the plugin failed, so the profile may miss calls of the paths it did not reach")
		}
	}
	if err := writeProfile(ctx.String("output"), res.Profile); err != nil {
		return err
	}
	if ctx.Bool("apply") {
		if err := bundle.ApplySeccomp(dir, res.Profile); err != nil {
			return err
		}
	}
	return rec.learned(res.Status, learnedSummary{Groups: o.Groups, Extra: o.Extra, Network: o.Network, Distinct: res.Distinct})
}

func writeProfile(path string, profile *specs.LinuxSeccomp) error {
	data, err := json.MarshalIndent(profile, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}
