package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// traceCommand is learning mode: it runs the plugin under seccompgen's
// learning filter, which sends every call to the monitor, which records it
// and lets it run; at exit it writes the profile that allows exactly what
// the plugin used (seccompgen.Learn), with the bundle's own violation
// policy for everything else, and prints the manifest fields that would
// cover it. Calls no profile may allow (seccompgen.NeverGranted) are
// refused during the run and listed; --allow-denied lets named ones run
// and be learned.
var traceCommand = &cli.Command{
	Name:      "trace",
	Usage:     "learn the exact seccomp profile a plugin needs by running it",
	ArgsUsage: "[-- ARGS...]",
	Flags: []cli.Flag{
		bundleFlag,
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the learned linux.seccomp JSON here (default: standard output)"},
		&cli.BoolFlag{Name: "apply", Usage: "also replace linux.seccomp in the bundle's config.json with the learned profile"},
		&cli.StringFlag{Name: "merge", Usage: "a profile an earlier trace learned: the new one allows what either run used"},
		&cli.StringSliceFlag{Name: "allow-denied", Usage: "let `CALL` run and learn it although plugbox never grants it (check then rates the bundle HIGH); repeat or comma-separate"},
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
		policy, err := bundle.ParseViolations(spec)
		if err != nil {
			return err
		}
		allow := ctx.StringSlice("allow-denied")
		for _, n := range allow {
			if !seccompgen.KnownSyscall(n) {
				return fmt.Errorf("--allow-denied %q: not a syscall plugbox knows", n)
			}
		}
		var merged *seccompgen.Learned
		if path := ctx.String("merge"); path != "" {
			if merged, err = readLearned(path, allow); err != nil {
				return err
			}
		}
		specAllow := false
		if spec.Linux != nil && spec.Linux.Seccomp != nil {
			specAllow = slices.Contains(spec.Linux.Seccomp.Flags, specs.LinuxSeccompFlagSpecAllow)
		} else {
			// The monitor needs a profile; learning replaces it.
			if spec.Linux == nil {
				spec.Linux = &specs.Linux{}
			}
			spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
		}
		b, err := backend(ctx)
		if err != nil {
			return err
		}
		id := "trace-" + strconv.Itoa(os.Getpid())
		c, err := b.Create(sandbox.CreateOptions{ID: id, Bundle: dir, Spec: spec, Foreground: true, Monitor: string(monitor.Learning), LearnAllow: allow})
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
		learned, refused, err := seccompgen.Learn(observed, allow)
		if err != nil {
			return err
		}
		if merged != nil {
			if err := learned.Merge(merged); err != nil {
				return fmt.Errorf("--merge: %w", err)
			}
		}
		profile, ignored, err := learned.Profile(policy, specAllow)
		if err != nil {
			return err
		}
		calls := learned.Calls()
		fmt.Fprintf(os.Stderr, "plugbox: trace: plugin exited with status %d; the learned profile allows %d calls (%s), and answers the rest %s\n",
			status, len(calls), strings.Join(calls, " "), policy.Default)
		if opts, uncovered, err := learned.Manifest(); err == nil {
			fmt.Fprintf(os.Stderr, "plugbox: trace: a manifest covering it: %s\n", manifestFields(opts))
			if len(uncovered) > 0 {
				fmt.Fprintf(os.Stderr, "plugbox: trace: no manifest grants: %s\n", strings.Join(uncovered, "; "))
			}
		}
		for _, note := range ignored {
			fmt.Fprintf(os.Stderr, "plugbox: trace: the plugin used a call the bundle gives an action: %s\n", note)
		}
		if status != 0 {
			fmt.Fprintln(os.Stderr, "plugbox: trace: warning: the plugin failed, so the profile may miss calls of the paths it did not reach")
		}
		if len(refused) > 0 {
			if path := ctx.String("output"); path != "" {
				if err := writeProfile(path, profile); err != nil {
					return err
				}
			}
			return fmt.Errorf("trace: the plugin called what plugbox never grants, so they were refused (EPERM) and not learned:\n  %s\nthe plugin may have failed where it made them; if it really needs them, trace again with --allow-denied %s (plugbox check then rates the bundle HIGH)",
				strings.Join(refusalLines(refused), "\n  "), strings.Join(refusedNames(refused), ","))
		}
		if err := writeProfile(ctx.String("output"), profile); err != nil {
			return err
		}
		if ctx.Bool("apply") {
			return applyProfile(dir, profile)
		}
		return nil
	},
}

// readObserved turns the monitor's learning log into distinct calls,
// reading it one record at a time. A log that misses calls (size cap, a
// write failure) is an error: the profile learned from it would deny them.
func readObserved(path string) ([]seccompgen.Observed, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[seccompgen.Observed]bool{}
	var out []seccompgen.Observed
	rd := monitor.NewReader(f)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if n := rec.Notice; n != nil {
			if n.Kind == monitor.NoticeDropped || n.Kind == monitor.NoticeLost || n.Kind == monitor.NoticeMonitorDied {
				return nil, fmt.Errorf("trace: the monitor could not record every call (%s), so a learned profile would deny some the plugin makes: %s", n.Kind, n.Message)
			}
			continue
		}
		o := seccompgen.Observed{Name: rec.Event.Syscall}
		copy(o.Args[:], rec.Event.Args)
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
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
