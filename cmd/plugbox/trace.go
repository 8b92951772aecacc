package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
	"github.com/plugbox/plugbox/seccompgen"

	"github.com/plugbox/plugbox/internal/atomicfile"
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
	},
	Action: func(ctx *cli.Context) error {
		dir, err := filepath.Abs(ctx.String("bundle"))
		if err != nil {
			return err
		}
		spec, err := bundle.Load(dir)
		if err != nil {
			return err
		}
		if ctx.NArg() > 0 {
			spec.Process.Args = ctx.Args().Slice()
		}
		learning, err := seccompgen.Generate(seccompgen.Options{Groups: []string{"base"}})
		if err != nil {
			return err
		}
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		spec.Linux.Seccomp = learning
		b, err := backend(ctx)
		if err != nil {
			return err
		}
		id := "trace-" + strconv.Itoa(os.Getpid())
		fmt.Fprintf(os.Stderr, "plugbox: trace: running %s as container %s under the learning filter: every call beyond \"base\" is recorded and allowed, but for the ones no group grants\n", strings.Join(spec.Process.Args, " "), id)
		c, err := b.Create(sandbox.CreateOptions{ID: id, Bundle: dir, Spec: spec, Foreground: true, Monitor: string(monitor.Learning)})
		if err != nil {
			return err
		}
		defer func() { _ = c.Delete(true) }()
		if err := c.Start(); err != nil {
			return err
		}
		status, err := c.Wait()
		if err != nil {
			return err
		}
		observed, err := readObserved(sandbox.ViolationLog(ctx.String("root"), id))
		if err != nil {
			return err
		}
		opts, err := seccompgen.Minimize(observed)
		if err != nil {
			return err
		}
		opts.OnViolation = violationOf(spec)
		profile, err := seccompgen.Generate(opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "plugbox: trace: plugin exited with status %d; %d distinct calls beyond \"base\"; learned groups [%s], extra calls [%s], network %s\n",
			status, len(observed), strings.Join(opts.Groups, " "), strings.Join(opts.Extra, " "), opts.Network)
		if status != 0 {
			fmt.Fprintln(os.Stderr, "plugbox: trace: warning: the plugin failed, so the profile may miss calls of the paths it did not reach")
		}
		if err := writeProfile(ctx.String("output"), profile); err != nil {
			return err
		}
		done := "printed the learned linux.seccomp profile"
		if out := ctx.String("output"); out != "" {
			done = "wrote the learned linux.seccomp profile to " + out
		}
		if ctx.Bool("apply") {
			if err := applyProfile(dir, profile); err != nil {
				return err
			}
			done += " and applied it to " + filepath.Join(dir, bundle.ConfigName)
		}
		fmt.Fprintf(os.Stderr, "plugbox: trace: done: %s\n", done)
		return nil
	},
}

// readObserved turns the monitor's log into distinct observed calls.
func readObserved(path string) ([]seccompgen.Observed, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	events, err := monitor.ReadLog(f)
	if err != nil {
		return nil, err
	}
	seen := map[seccompgen.Observed]bool{}
	var out []seccompgen.Observed
	for _, e := range events {
		o := seccompgen.Observed{Name: e.Syscall}
		copy(o.Args[:], e.Args)
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// violationOf keeps the bundle's choice of EPERM or kill for denied calls.
func violationOf(spec *specs.Spec) string {
	if spec.Linux != nil && spec.Linux.Seccomp != nil && spec.Linux.Seccomp.DefaultAction == specs.ActKillProcess {
		return "kill"
	}
	return "errno"
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

// applyProfile replaces linux.seccomp in dir/config.json, atomically.
func applyProfile(dir string, profile *specs.LinuxSeccomp) error {
	path := filepath.Join(dir, bundle.ConfigName)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	spec, err := bundle.Decode(path, data)
	if err != nil {
		return err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	spec.Linux.Seccomp = profile
	out, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(out, '\n'), 0o644)
}
