package mangen

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	var b strings.Builder
	err := Render(&b, Page{
		Name: "plugbox-run", Section: "1", Date: "2026-12-01", Source: "plugbox 1.0", Manual: "plugbox manual",
		Summary:     "create and start a container",
		Synopsis:    "plugbox run [OPTIONS] ID",
		Description: "First paragraph,\nstill first.\n\n.dotted line and a back\\slash",
		Commands:    []Entry{{Name: "init", Summary: "write a bundle"}},
		Options:     []Option{{Names: []string{"bundle", "b"}, Arg: "DIR", Usage: "the bundle", Default: `"."`}, {Names: []string{"detach"}, Usage: "do not wait"}},
		Examples:    []string{"plugbox run --bundle ./b job1"},
		SeeAlso:     []string{"plugbox(1)", "runc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `.TH PLUGBOX\-RUN 1 2026\-12\-01 "plugbox 1.0" "plugbox manual"
.SH NAME
plugbox\-run \- create and start a container
.SH SYNOPSIS
.B plugbox run [OPTIONS] ID
.SH DESCRIPTION
First paragraph,
still first.
.PP
\&.dotted line and a back\eslash
.SH COMMANDS
.TP
.B init
write a bundle
.SH OPTIONS
.TP
\fB\-\-bundle\fR, \fB\-b\fR \fIDIR\fR
the bundle (default: ".")
.TP
\fB\-\-detach\fR
do not wait
.SH EXAMPLES
.PP
.nf
.RS 4
plugbox run \-\-bundle ./b job1
.RE
.fi
.SH SEE ALSO
.BR plugbox (1),
.BR runc
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
