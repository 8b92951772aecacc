package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/internal/mangen"
)

// manCommand writes the manual pages, plugbox(1) and one plugbox-VERB(1)
// per verb, from the command definitions that also make --help and the
// completion scripts. It is hidden: 'make man' runs it.
var manCommand = &cli.Command{
	Name:      "man",
	Usage:     "write the manual pages into DIR",
	ArgsUsage: "DIR",
	Hidden:    true,
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return fmt.Errorf("man: want one DIR argument: usage: plugbox man DIR")
		}
		dir := ctx.Args().First()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("man: %w", err)
		}
		for _, p := range manPages(ctx.App) {
			path := filepath.Join(dir, p.Name+"."+p.Section)
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("man: %w", err)
			}
			err = mangen.Render(f, p)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("man %s: %w", path, err)
			}
		}
		return nil
	},
}

// manDate is the pages' date: SOURCE_DATE_EPOCH when set (reproducible
// builds), else today.
func manDate() string {
	t := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			t = time.Unix(sec, 0).UTC()
		}
	}
	return t.Format("2006-01-02")
}

// manPages describes plugbox(1) and a page per visible verb.
func manPages(app *cli.App) []mangen.Page {
	date := manDate()
	base := func(name, summary string) mangen.Page {
		return mangen.Page{Name: name, Section: "1", Date: date, Source: "plugbox " + app.Version, Manual: "plugbox manual", Summary: summary}
	}
	top := base("plugbox", app.Usage)
	top.Synopsis = "plugbox [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGUMENTS]"
	top.Description = `plugbox runs code a host application does not trust (plugins, extensions, user scripts) in a sandbox built from an OCI bundle. It is a runc-compatible OCI runtime, plus what a plugin host needs beyond runc: bundles authored from a short manifest with hardened defaults, an audit, seccomp profiles from permission groups, a learning mode, and a violation log that names every denied system call.

Each command has its own page, plugbox-COMMAND(1).`
	top.Options = manOptions(app.VisibleFlags())
	top.Examples = []string{
		"plugbox doctor",
		"plugbox bundle init ./hello --exec /bin/busybox",
		"plugbox run --bundle ./hello job1",
	}
	var pages []mangen.Page
	var walk func(cmds []*cli.Command, parent string)
	walk = func(cmds []*cli.Command, parent string) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			path := strings.TrimSpace(parent + " " + c.Name)
			p := base("plugbox-"+strings.ReplaceAll(path, " ", "-"), c.Usage)
			p.Synopsis = "plugbox " + path
			if len(c.VisibleFlags()) > 0 {
				p.Synopsis += " [OPTIONS]"
			}
			if c.ArgsUsage != "" {
				p.Synopsis += " " + c.ArgsUsage
			}
			p.Description, p.Examples = splitDescription(c.Description)
			for _, s := range c.Subcommands {
				if !s.Hidden {
					p.Commands = append(p.Commands, mangen.Entry{Name: s.Name, Summary: s.Usage})
				}
			}
			p.Options = manOptions(c.VisibleFlags())
			p.SeeAlso = []string{"plugbox(1)"}
			pages = append(pages, p)
			top.Commands = append(top.Commands, mangen.Entry{Name: path, Summary: c.Usage})
			walk(c.Subcommands, path)
		}
	}
	walk(app.Commands, "")
	for _, p := range pages {
		top.SeeAlso = append(top.SeeAlso, p.Name+"(1)")
	}
	sort.Strings(top.SeeAlso)
	return append([]mangen.Page{top}, pages...)
}

// manOptions describes flags; a flag's value placeholder is its name in
// capitals (--pid-file PID_FILE), or N for numbers.
func manOptions(flags []cli.Flag) []mangen.Option {
	var out []mangen.Option
	for _, f := range flags {
		o := mangen.Option{Names: f.Names()}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			o.Usage = d.GetUsage()
			if d.TakesValue() {
				switch f.(type) {
				case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Int64SliceFlag:
					o.Arg = "N"
				case *cli.DurationFlag:
					o.Arg = "DURATION"
				default:
					o.Arg = strings.ToUpper(strings.ReplaceAll(o.Names[0], "-", "_"))
				}
				if v := d.GetDefaultText(); v != "" && v != `""` {
					o.Default = v
				}
			}
		}
		out = append(out, o)
	}
	return out
}
