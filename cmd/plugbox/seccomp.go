package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/seccompgen"
)

// seccompCommand groups the seccomp tooling: permission groups, export of the
// compiled filter and explanation of a profile's decision on one call.
var seccompCommand = &cli.Command{
	Name:  "seccomp",
	Usage: "inspect seccomp permission groups and bundle profiles",
	Subcommands: []*cli.Command{
		{
			Name:  "groups",
			Usage: "list the permission groups and their system calls",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list every system call of each group"}},
			Action: func(ctx *cli.Context) error {
				w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
				for _, g := range seccompgen.Groups() {
					fmt.Fprintf(w, "%s\t%s (%d calls)\n", g.Name, g.Summary, len(g.Syscalls))
					if ctx.Bool("verbose") {
						fmt.Fprintf(w, "\t  %s\n", strings.Join(g.Syscalls, " "))
					}
				}
				return w.Flush()
			},
		},
		{
			Name:  "actions",
			Usage: "list the violation actions (onViolation, syscallActions): what the plugin sees and who logs the call",
			Action: func(ctx *cli.Context) error {
				for _, a := range seccompgen.Actions() {
					fmt.Printf("%s\n  seccomp: %s\n  plugin:  %s\n  log:     %s\n", a.Name, a.Seccomp, a.Plugin, a.Log)
				}
				return nil
			},
		},
		{
			Name:      "export",
			Usage:     "write the compiled filter of a bundle's linux.seccomp",
			ArgsUsage: "BUNDLE",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Value: "pfc", Usage: "pfc (readable pseudo-filter code) or bpf (raw)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to write (default: standard output)"},
			},
			Action: func(ctx *cli.Context) error {
				_, profile, err := bundleProfile(ctx.Args().First())
				if err != nil {
					return err
				}
				out := os.Stdout
				if path := ctx.String("output"); path != "" {
					if out, err = os.Create(path); err != nil {
						return fmt.Errorf("--output: %w", err)
					}
					defer out.Close()
				}
				return exportProfile(profile, out, ctx.String("format"))
			},
		},
		{
			Name:      "explain",
			Usage:     "say what a bundle's profile does with one system call, and why (and whether plugbox's broker sees it first)",
			ArgsUsage: "BUNDLE SYSCALL",
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 2 {
					return fmt.Errorf("seccomp explain: usage: plugbox seccomp explain BUNDLE SYSCALL")
				}
				spec, profile, err := bundleProfile(ctx.Args().Get(0))
				if err != nil {
					return err
				}
				calls, err := brokerCalls(ctx.Args().Get(0), spec)
				if err != nil {
					return err
				}
				text, err := seccompgen.ExplainBroker(profile, ctx.Args().Get(1), spec.Annotations[bundle.AnnotationMonitor], calls)
				if err != nil {
					return err
				}
				fmt.Println(text)
				return nil
			},
		},
	},
}

// bundleProfile returns BUNDLE/config.json and its linux.seccomp section.
func bundleProfile(dir string) (*specs.Spec, *specs.LinuxSeccomp, error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("missing BUNDLE argument")
	}
	spec, err := bundle.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil, fmt.Errorf("%s/config.json has no linux.seccomp section: nothing filters its system calls", dir)
	}
	return spec, spec.Linux.Seccomp, nil
}

// brokerCalls names the calls the broker rules of bundle dir's spec (annotation
// org.plugbox.broker) send to the broker before the profile decides.
func brokerCalls(dir string, spec *specs.Spec) ([]string, error) {
	ann, err := bundle.ParseAnnotations(spec.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if ann.Broker == nil {
		return nil, nil
	}
	return seccompgen.BrokerCalls(len(ann.Broker.Open) > 0, len(ann.Broker.Connect) > 0), nil
}
