package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/sandbox"
)

// On FreeBSD, trace is Capsicum's violation tracing: the plugin runs in its
// jail with its descriptors limited but without cap_enter, under ktrace
// KTRFAC_CAPFAIL|KTRFAC_NAMEI, and every call capability mode would refuse
// is reported with the path it looked up. The verb's Linux learning mode
// (trace.go) has no FreeBSD counterpart, so its action is replaced here.
func init() {
	traceCommand.Usage = "run the plugin once outside capability mode and report every call Capsicum would refuse"
	traceCommand.Flags = []cli.Flag{
		bundleFlag,
		&cli.StringFlag{Name: "format", Value: "text", Usage: "text (grouped calls) or json (one violation per line)"},
	}
	traceCommand.Description = ""
	traceCommand.Action = traceCapsicum
}

func traceCapsicum(ctx *cli.Context) error {
	format := ctx.String("format")
	if format != "text" && format != "json" {
		return fmt.Errorf("--format %q: use text or json", format)
	}
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
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	// The trace is of capability mode, whatever the bundle says; a trap
	// on violation would kill the plugin at the first rights violation.
	spec.Annotations[bundle.AnnotationCapsicum] = "true"
	delete(spec.Annotations, bundle.AnnotationTrapCap)
	b, err := backend(ctx)
	if err != nil {
		return err
	}
	id := "trace-" + strconv.Itoa(os.Getpid())
	c, err := b.Create(sandbox.CreateOptions{ID: id, Bundle: dir, Spec: spec, Foreground: true, Monitor: "learning"})
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
	tr, err := sandbox.CapsicumViolations(ctx.String("root"), id)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	vs, ok := tr.AfterMarker()
	if !ok {
		return errors.New("trace: the kernel recorded no violation for the trace marker, so it does not report violations of processes outside capability mode (FreeBSD 14.0 does not); run the plugin with Capsicum on and annotation org.plugbox.monitor \"violations\", then plugbox violations ID")
	}
	if tr.Dropped > 0 {
		fmt.Fprintf(os.Stderr, "plugbox: trace: warning: the kernel dropped ktrace records %d time(s) (KTR_DROP); the list below is incomplete\n", tr.Dropped)
	}
	if format == "json" {
		enc := json.NewEncoder(os.Stdout)
		for _, v := range vs {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	}
	sum := jailSummary(vs)
	fmt.Fprintf(os.Stderr, "plugbox: trace: plugin exited with status %d; %d call(s), %d distinct, would fail in capability mode\n", status, len(vs), len(sum))
	for _, line := range sum {
		fmt.Println(line)
	}
	if status != 0 {
		fmt.Fprintln(os.Stderr, "plugbox: trace: warning: the plugin failed (a rights violation fails for real, with ENOTCAPABLE), so calls on the paths it did not reach are missing")
	}
	return nil
}
