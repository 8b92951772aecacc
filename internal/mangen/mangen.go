// Package mangen renders manual pages in roff (man(7) macros) from a plain
// description of a command: plugbox's pages are generated from the same
// command definitions as its --help and shell completion, without a
// Markdown converter in the binary.
package mangen

import (
	"fmt"
	"io"
	"strings"
)

// Page is one manual page.
type Page struct {
	// Name is the page's name, e.g. "plugbox-run".
	Name string
	// Section is the manual section, e.g. "1".
	Section string
	// Source and Manual fill the page footer and header (.TH).
	Source, Manual string
	// Date is the page's date, e.g. "2026-12-01".
	Date string
	// Summary is the one-line NAME description.
	Summary string
	// Synopsis is the usage line, e.g. "plugbox run [OPTIONS] ID".
	Synopsis string
	// Description is plain text; blank lines separate paragraphs.
	Description string
	// Commands lists subcommands (name and summary), for a page of a
	// command that has them.
	Commands []Entry
	// Options lists the command's flags.
	Options []Option
	// Examples are command lines.
	Examples []string
	// SeeAlso names related pages, e.g. "plugbox(1)".
	SeeAlso []string
}

// Entry is a named line of a list (a subcommand).
type Entry struct {
	Name, Summary string
}

// Option is one flag.
type Option struct {
	// Names are the flag's names without dashes, long one first.
	Names []string
	// Arg is the value's placeholder ("" for a boolean flag).
	Arg string
	// Usage describes it.
	Usage string
	// Default is its default value, "" when none is worth saying.
	Default string
}

// Render writes p as a roff manual page.
func Render(w io.Writer, p Page) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Date), quote(p.Source), quote(p.Manual))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", escape(p.Name), escape(p.Summary))
	if p.Synopsis != "" {
		b.WriteString(".SH SYNOPSIS\n")
		fmt.Fprintf(&b, ".B %s\n", escape(p.Synopsis))
	}
	if strings.TrimSpace(p.Description) != "" {
		b.WriteString(".SH DESCRIPTION\n")
		paragraphs(&b, p.Description)
	}
	if len(p.Commands) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range p.Commands {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(c.Name), escape(c.Summary))
		}
	}
	if len(p.Options) > 0 {
		b.WriteString(".SH OPTIONS\n")
		for _, o := range p.Options {
			b.WriteString(".TP\n")
			b.WriteString(optionLine(o) + "\n")
			usage := o.Usage
			if o.Default != "" {
				usage += " (default: " + o.Default + ")"
			}
			b.WriteString(escape(usage) + "\n")
		}
	}
	if len(p.Examples) > 0 {
		b.WriteString(".SH EXAMPLES\n")
		for _, e := range p.Examples {
			fmt.Fprintf(&b, ".PP\n.nf\n.RS 4\n%s\n.RE\n.fi\n", escape(e))
		}
	}
	if len(p.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		var refs []string
		for _, s := range p.SeeAlso {
			refs = append(refs, seeAlso(s))
		}
		b.WriteString(strings.Join(refs, ",\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// optionLine renders a flag's names in bold and its value in italics:
// \fB\-\-bundle\fR, \fB\-b\fR \fIDIR\fR.
func optionLine(o Option) string {
	var names []string
	for _, n := range o.Names {
		dash := "\\-\\-"
		if len(n) == 1 {
			dash = "\\-"
		}
		names = append(names, "\\fB"+dash+escape(n)+"\\fR")
	}
	line := strings.Join(names, ", ")
	if o.Arg != "" {
		line += " \\fI" + escape(o.Arg) + "\\fR"
	}
	return line
}

// seeAlso renders "plugbox-run(1)" as a bold name and its section.
func seeAlso(ref string) string {
	name, sect, ok := strings.Cut(ref, "(")
	if !ok {
		return ".BR " + escape(ref)
	}
	return ".BR " + escape(name) + " (" + sect
}

// paragraphs writes text: blank lines separate paragraphs; a line that
// starts with blanks after the first of a paragraph starts a literal block.
func paragraphs(b *strings.Builder, text string) {
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		for _, line := range strings.Split(para, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			b.WriteString(escape(line) + "\n")
		}
	}
}

// escape makes text safe in roff: backslashes and dashes escaped, and a
// line that would start with a control character ('.' or ') protected.
func escape(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\e")
	s = strings.ReplaceAll(s, "-", "\\-")
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = "\\&" + s
	}
	return s
}

// quote wraps a .TH argument in double quotes when it holds a blank.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t") {
		return "\"" + strings.ReplaceAll(escape(s), "\"", "\\(dq") + "\""
	}
	return escape(s)
}
