package main

import (
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// exampleMarker separates a verb's description from its examples in
// cli.Command.Description (see described); the help output and the manual
// pages print the examples last, under EXAMPLES.
const exampleMarker = "\n\nExamples:\n"

// withExamples returns a Description: text (continuation lines indented
// three spaces, as urfave/cli shows them) followed by examples, one
// command line each.
func withExamples(text string, examples []string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(text, "\n"))
	b.WriteString(exampleMarker)
	for _, e := range examples {
		b.WriteString("   " + e + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// addExamples appends to each command's Description its examples from
// the examples table, keyed by the command's path ("bundle init").
func addExamples(cmds []*cli.Command, parent string) {
	for _, c := range cmds {
		path := strings.TrimSpace(parent + " " + c.Name)
		if ex := examples[path]; len(ex) > 0 && !strings.Contains(c.Description, exampleMarker) {
			c.Description = withExamples(c.Description, ex)
		}
		addExamples(c.Subcommands, path)
	}
}

// splitDescription returns the paragraphs of a Description without their
// indentation, and its examples.
func splitDescription(desc string) (text string, examples []string) {
	text, ex, _ := strings.Cut(desc, exampleMarker)
	for _, line := range strings.Split(ex, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			examples = append(examples, line)
		}
	}
	return dedent(text), examples
}

// dedent removes the three-space indentation of continuation lines.
func dedent(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "   ")
	}
	return strings.Join(lines, "\n")
}

// indent indents every line but the first by n spaces, as urfave/cli's
// templates expect of a section's body.
func indent(text string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(text, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// commandHelpTemplate is urfave/cli's command help with the description
// shown without its examples and the examples last.
const commandHelpTemplate = `NAME:
   {{template "helpNameTemplate" .}}

USAGE:
   {{template "usageTemplate" .}}{{if .Category}}

CATEGORY:
   {{.Category}}{{end}}{{if descriptionText .}}

DESCRIPTION:
   {{descriptionText .}}{{end}}{{if hasSubcommands .}}

COMMANDS:{{template "visibleCommandCategoryTemplate" .}}{{end}}{{if .VisibleFlagCategories}}

OPTIONS:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}

OPTIONS:{{template "visibleFlagTemplate" .}}{{end}}{{if examples .}}

EXAMPLES:
   {{examples .}}{{end}}
`

// installHelp makes every verb's --help end with its examples.
func installHelp() {
	cli.CommandHelpTemplate = commandHelpTemplate
	cli.SubcommandHelpTemplate = commandHelpTemplate
	funcs := map[string]any{
		"hasSubcommands": func(data any) bool {
			if c, ok := data.(*cli.Command); ok {
				for _, s := range c.Subcommands {
					if !s.Hidden && s.Name != "help" {
						return true
					}
				}
			}
			return false
		},
		"descriptionText": func(data any) string {
			if c, ok := data.(*cli.Command); ok {
				text, _ := splitDescription(c.Description)
				return indent(text, 3)
			}
			return ""
		},
		"examples": func(data any) string {
			if c, ok := data.(*cli.Command); ok {
				_, ex := splitDescription(c.Description)
				return strings.Join(ex, "\n   ")
			}
			return ""
		},
	}
	printer := cli.HelpPrinterCustom
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		printer(w, templ, data, funcs)
	}
}
