package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/learn"
	"github.com/plugbox/plugbox/seccompgen"
)

// traceCommand is learning mode: it runs the plugin under seccompgen's
// learning filter, which sends every call to the monitor, which records it
// and lets it run; at exit it writes the profile that allows exactly what
// the plugin used (package learn), with the bundle's own violation policy
// for everything else, and prints the manifest fields that would cover it.
// Calls no profile may allow (seccompgen.NeverGranted) are refused during
// the run and listed; --allow-denied lets named ones run and be learned.
var traceCommand = &cli.Command{
	Name:      "trace",
	Usage:     "learn the exact seccomp profile a plugin needs by running it",
	ArgsUsage: "[-- ARGS...]",
	Flags: []cli.Flag{
		bundleFlag,
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the learned linux.seccomp JSON here (default: standard output)"},
		&cli.BoolFlag{Name: "apply", Usage: "also replace linux.seccomp in the bundle's config.json with the learned profile"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N descriptors beyond stdio (3 .. 3+N-1) to the plugin"},
		&cli.StringFlag{Name: "merge", Usage: "a profile an earlier trace learned: the new one allows what either run used"},
		&cli.StringSliceFlag{Name: "allow-denied", Usage: "let `CALL` run and learn it although plugbox never grants it (check then rates the bundle HIGH); repeat or comma-separate"},
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
		return rec.finish(runTrace(ctx, rec))
	},
}

// runTrace is trace's work (package learn); rec, when not nil, records what
// was learned.
func runTrace(ctx *cli.Context, rec *statusRecorder) error {
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
	allow := ctx.StringSlice("allow-denied")
	for _, name := range allow {
		if !seccompgen.KnownSyscall(name) {
			return fmt.Errorf("--allow-denied %q: not a syscall plugbox knows", name)
		}
	}
	var merge *seccompgen.Learned
	if path := ctx.String("merge"); path != "" {
		if merge, err = readLearned(path, allow); err != nil {
			return err
		}
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
	id := "trace-" + strconv.Itoa(os.Getpid())
	if rec == nil {
		args := spec.Process.Args
		if ctx.NArg() > 0 {
			args = ctx.Args().Slice()
		}
		fmt.Fprintf(os.Stderr, "plugbox: trace: running %s as container %s under the learning filter: every call is recorded and allowed, but for the ones plugbox never grants\n", strings.Join(args, " "), id)
	}
	res, err := learn.Run(run, b, learn.Options{
		ID: id, Root: ctx.String("root"),
		Bundle: dir, Spec: spec, Args: ctx.Args().Slice(), PreserveFDs: n,
		AllowDenied: allow, Merge: merge,
	})
	if errors.Is(err, learn.ErrCancelled) {
		return fmt.Errorf("trace: the --hold-fd caller closed its end: %w", err)
	}
	if err != nil {
		return err
	}
	o := res.Options
	if rec == nil { // else the status file says it
		calls := res.Learned.Calls()
		fmt.Fprintf(os.Stderr, "plugbox: trace: plugin exited with status %d; the learned profile allows %d calls (%s), and answers the rest %s\n",
			res.Status, len(calls), strings.Join(calls, " "), res.Policy.Default)
		if res.ManifestErr == nil {
			fmt.Fprintf(os.Stderr, "plugbox: trace: a manifest covering it: %s\n", manifestFields(o))
			if len(res.Uncovered) > 0 {
				fmt.Fprintf(os.Stderr, "plugbox: trace: no manifest grants: %s\n", strings.Join(res.Uncovered, "; "))
			}
		}
		for _, note := range res.Ignored {
			fmt.Fprintf(os.Stderr, "plugbox: trace: the plugin used a call the bundle gives an action: %s\n", note)
		}
		if res.Status != 0 {
			fmt.Fprintln(os.Stderr, "plugbox: trace: warning: the plugin failed, so the profile may miss calls of the paths it did not reach")
		}
	}
	if len(res.Refused) > 0 {
		// Written for review, never applied: the plugin may have failed
		// where the refused calls were.
		if path := ctx.String("output"); path != "" {
			if err := writeProfile(path, res.Profile); err != nil {
				return err
			}
		}
		return fmt.Errorf("trace: the plugin called what plugbox never grants, so they were refused (EPERM) and not learned:\n  %s\nthe plugin may have failed where it made them; if it really needs them, trace again with --allow-denied %s (plugbox check then rates the bundle HIGH)",
			strings.Join(refusalLines(res.Refused), "\n  "), strings.Join(refusedNames(res.Refused), ","))
	}
	if err := writeProfile(ctx.String("output"), res.Profile); err != nil {
		return err
	}
	done := "printed the learned linux.seccomp profile"
	if out := ctx.String("output"); out != "" {
		done = "wrote the learned linux.seccomp profile to " + out
	}
	if ctx.Bool("apply") {
		if err := bundle.ApplySeccomp(dir, res.Profile); err != nil {
			return err
		}
		done += " and applied it to " + filepath.Join(dir, bundle.ConfigName)
	}
	if rec == nil {
		fmt.Fprintf(os.Stderr, "plugbox: trace: done: %s\n", done)
	}
	return rec.learned(res.Status, learnedSummary{Groups: o.Groups, Extra: o.Extra, Network: o.Network, Distinct: res.Distinct})
}

// readLearned reads a profile an earlier trace wrote, for --merge.
func readLearned(path string, allow []string) (*seccompgen.Learned, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--merge: %w", err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("--merge %s: not a linux.seccomp JSON object: %w", path, err)
	}
	l, err := seccompgen.LearnedFrom(&s, allow)
	if err != nil {
		return nil, fmt.Errorf("--merge %s: %w", path, err)
	}
	return l, nil
}

// manifestFields renders the plugin.json fields of opts.
func manifestFields(o seccompgen.Options) string {
	groups, _ := json.Marshal(o.Groups)
	extra, _ := json.Marshal(append([]string{}, o.Extra...))
	return fmt.Sprintf(`"syscalls": %s, "extraSyscalls": %s, "network": %q`, groups, extra, o.Network)
}

func refusalLines(rs []seccompgen.Refusal) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func refusedNames(rs []seccompgen.Refusal) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
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
