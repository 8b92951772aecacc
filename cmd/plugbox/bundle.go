package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
)

// bundleCommand groups the verbs that author plugin bundles.
var bundleCommand = &cli.Command{
	Name:  "bundle",
	Usage: "author plugin bundles",
	Subcommands: []*cli.Command{{
		Name:      "init",
		Usage:     "write a hardened, runnable bundle around an executable",
		ArgsUsage: "DIR",
		Description: `Assembles DIR/rootfs around --exec (with its ELF interpreter and shared
   libraries) and writes DIR/config.json with plugbox's hardened defaults,
   derived from --manifest (plugin.json) or from the default manifest.

   DIR must not exist (it is created) or be an empty directory you own that no
   one else can write; nothing is written through a symbolic link, and a failed
   init leaves nothing behind. Only the first ELF interpreter is copied, and
   libraries only by name from the loader's standard directories. A file the
   program names (interpreter, library, #! interpreter) is copied only when
   every local user could read it anyway (root-owned, world-readable), with its
   own mode; --allow-untrusted-files lifts that. The plugin executable is
   installed mode 0111 (0555 for a script), so the plugin cannot read it and
   stays non-dumpable.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "exec", Usage: "host path of the plugin executable (required)"},
			&cli.StringFlag{Name: "manifest", Aliases: []string{"m"}, Usage: "plugin manifest (plugin.json)"},
			&cli.BoolFlag{Name: "allow-untrusted-files", Usage: "also copy interpreters and libraries that are not root-owned and world-readable (their copies become readable by the plugin)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print each file copied and each directory bound, as it goes"},
			osFlag,
		},
		Action: func(ctx *cli.Context) error {
			// Flags may also follow DIR, as in the documented usage.
			args, err := interspersed(ctx, "exec", "manifest", "allow-untrusted-files", "verbose", "os")
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return fmt.Errorf("bundle init: want one DIR argument, got %d: usage: plugbox bundle init DIR --exec PATH [--manifest plugin.json]", len(args))
			}
			if ctx.String("exec") == "" {
				return fmt.Errorf("bundle init: --exec PATH is required: the host executable to package")
			}
			m, err := manifestFlag(ctx)
			if err != nil {
				return err
			}
			progress := &initProgress{w: os.Stderr, verbose: ctx.Bool("verbose")}
			if err := initBundle(ctx.String("os"), args[0], ctx.String("exec"), m, bundle.InitOptions{
				Spec:                bundle.CallerSpecOptions(),
				AllowUntrustedFiles: ctx.Bool("allow-untrusted-files"),
				Progress:            progress.step,
			}); err != nil {
				return err
			}
			progress.summary(args[0])
			return nil
		},
	}},
}

// manifestFlag loads --manifest, or returns nil for the default manifest.
func manifestFlag(ctx *cli.Context) (*bundle.Manifest, error) {
	path := ctx.String("manifest")
	if path == "" {
		return nil, nil
	}
	return bundle.LoadManifest(path)
}

// interspersed applies the named flags found among the positional
// arguments (urfave/cli stops parsing flags at the first one) and returns
// the remaining positional arguments.
func interspersed(ctx *cli.Context, names ...string) ([]string, error) {
	args := ctx.Args().Slice()
	var rest []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !slices.Contains(names, canonicalFlag(ctx, name)) {
			rest = append(rest, args[i])
			continue
		}
		if !hasValue && isBoolFlag(ctx, canonicalFlag(ctx, name)) {
			value = "true"
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %s needs a value", args[i])
			}
			i++
			value = args[i]
		}
		if err := ctx.Set(canonicalFlag(ctx, name), value); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// canonicalFlag maps a flag alias (e.g. "m") to its name ("manifest").
func canonicalFlag(ctx *cli.Context, name string) string {
	for _, f := range ctx.Command.Flags {
		names := f.Names()
		if slices.Contains(names, name) {
			return names[0]
		}
	}
	return name
}

// isBoolFlag reports whether the command's flag called name takes no value.
func isBoolFlag(ctx *cli.Context, name string) bool {
	for _, f := range ctx.Command.Flags {
		if _, ok := f.(*cli.BoolFlag); ok && slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// initProgress prints what bundle init copies and binds: each step with
// --verbose, and a one-line summary at the end.
type initProgress struct {
	w       io.Writer
	verbose bool
	files   int
	bytes   int64
	binds   []string
	skipped int
}

func (p *initProgress) step(s bundle.InitStep) {
	switch s.Action {
	case bundle.StepCopy:
		p.files++
		p.bytes += s.Size
		if p.verbose {
			where := ""
			if s.Dest != s.Path {
				where = " to " + s.Dest
			}
			fmt.Fprintf(p.w, "plugbox: bundle init: copy %s%s (%s, %s)\n", s.Path, where, humanBytes(s.Size), s.Why)
		}
	case bundle.StepBind:
		p.binds = append(p.binds, s.Path)
		if p.verbose {
			fmt.Fprintf(p.w, "plugbox: bundle init: bind %s (%s)\n", s.Path, s.Why)
		}
	case bundle.StepSkip:
		p.skipped++
		if p.verbose {
			fmt.Fprintf(p.w, "plugbox: bundle init: skip %s (%s)\n", s.Path, s.Why)
		}
	}
}

// summary prints one line: how much was copied, what is bound.
func (p *initProgress) summary(dir string) {
	line := fmt.Sprintf("plugbox: bundle init: %s: copied %d files (%s)", dir, p.files, humanBytes(p.bytes))
	if len(p.binds) > 0 {
		line += "; bound read-only for the interpreter: " + strings.Join(p.binds, ", ")
	}
	if p.skipped > 0 {
		line += fmt.Sprintf("; %d libraries of extension modules not on this host", p.skipped)
	}
	if !p.verbose {
		line += " (-v lists each)"
	}
	fmt.Fprintln(p.w, line)
}

// humanBytes renders n as "512 B", "1.9 MB".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
