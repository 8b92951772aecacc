package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugbox/plugbox/internal/trace"
)

// warm splits a start into create and start: the bundle's plugin prints
// "first-instruction NS" (CLOCK_MONOTONIC at its entry), so the time from
// the caller's exec of `start` to the plugin's first instruction is
// measured across the processes.
func warm(args []string) error {
	fs := flag.NewFlagSet("warm", flag.ExitOnError)
	rounds := fs.Int("n", 20, "rounds")
	warmup := fs.Int("warmup", 2, "untimed rounds first")
	traced := fs.Bool("waterfall", false, "also trace each start (PLUGBOX_TRACE) and print its waterfall (plugbox contenders)")
	_ = fs.Parse(args)
	cs, err := parseContenders(fs, true)
	if err != nil {
		return err
	}
	type result struct {
		create, start, first []time.Duration
		traces               [][]trace.Event
	}
	results := map[*contender]*result{}
	for _, c := range cs {
		results[c] = &result{}
	}
	for r := 0; r < *warmup+*rounds; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			var tracePath string
			if *traced && strings.Contains(filepath.Base(strings.Fields(c.runtime)[0]), "plugbox") {
				tracePath = filepath.Join(os.TempDir(), "startbench-start-"+newID())
			}
			create, start, first, events, err := warmOnce(c, tracePath)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if r >= *warmup {
				res := results[c]
				res.create = append(res.create, create)
				res.start = append(res.start, start)
				res.first = append(res.first, first)
				if events != nil {
					res.traces = append(res.traces, events)
				}
			}
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
	fmt.Fprintf(w, "case\tcreate\tstart (CLI)\tstart → first instruction\tp10\tp90\n")
	for _, c := range cs {
		res := results[c]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.name, ms(median(res.create)), ms(median(res.start)),
			ms(median(res.first)), ms(percentile(res.first, 10)), ms(percentile(res.first, 90)))
	}
	w.Flush()
	fmt.Printf("(%d rounds, interleaved, medians; create and start are whole-process times of the runtime's CLI; for a lib: case, start is the sandbox package's Load and Start in this process, as a host application calls them)\n", *rounds)
	for _, c := range cs {
		if len(results[c].traces) > 0 {
			fmt.Printf("\n-- start of %s (ms since the caller's exec of start)\n", c.name)
			printWaterfall(results[c].traces)
		}
	}
	return nil
}

// root is the --root of a runtime command line.
func root(rt []string) string {
	for i, a := range rt {
		if a == "--root" && i+1 < len(rt) {
			return rt[i+1]
		}
	}
	return ""
}

// warmOnce creates a container, starts it and reads its plugin's report;
// with tracePath it traces the start.
func warmOnce(c *contender, tracePath string) (create, start, first time.Duration, events []trace.Event, err error) {
	id := newID()
	out, err := os.CreateTemp("", "startbench-out")
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	rt := strings.Fields(c.runtime)
	defer func() { _, _, _ = run(append(rt, "delete", "--force", id), nil) }()
	cmd := exec.Command(rt[0], append(rt[1:], "create", "--bundle", c.bundle, id)...)
	// The container's stdio is create's: the plugin writes its report to
	// out. Files, not pipes: create returns while the container holds them.
	cmd.Stdout = out
	errOut, err := os.CreateTemp("", "startbench-err")
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer os.Remove(errOut.Name())
	defer errOut.Close()
	cmd.Stderr = errOut
	t := time.Now()
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(errOut.Name())
		return 0, 0, 0, nil, fmt.Errorf("create: %v: %s", err, msg)
	}
	create = time.Since(t)
	var env []string
	t0 := monotonic()
	if tracePath != "" {
		defer os.Remove(tracePath)
		env = []string{trace.EnvFile + "=" + tracePath, trace.EnvStart + "=" + strconv.FormatInt(t0, 10)}
	}
	if c.inProcess {
		// What a host application using plugbox as a library does: the
		// container's start from a process that is already running.
		t := time.Now()
		if err = startInProcess(root(rt), id); err != nil {
			return 0, 0, 0, nil, err
		}
		start = time.Since(t)
	} else if start, _, err = run(append(rt, "start", id), env); err != nil {
		return 0, 0, 0, nil, err
	}
	startEnded := monotonic()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Microsecond) {
		data, _ := os.ReadFile(out.Name())
		if ns, ok := firstInstruction(data); ok {
			if tracePath != "" {
				events, err = readTrace(tracePath)
				switch {
				case errors.Is(err, os.ErrNotExist):
					events = nil // a plugbox without the trace: no waterfall
				case err != nil:
					return 0, 0, 0, nil, err
				default:
					events = append(events, trace.Event{T: ns, Stage: "plugin: first instruction"}, trace.Event{T: startEnded, Stage: "caller: start exited"})
					sortEvents(events)
				}
			}
			return create, start, time.Duration(ns - t0), events, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, nil, fmt.Errorf("the plugin reported no first instruction within 5s (output %q)", data)
		}
	}
}
