package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plugbox/plugbox/internal/trace"
)

// waterfall runs each plugbox command n times with PLUGBOX_TRACE and
// prints, per stage, the median time since the caller started plugbox.
func waterfall(args []string) error {
	fs := flag.NewFlagSet("waterfall", flag.ExitOnError)
	rounds := fs.Int("n", 10, "runs of each command")
	_ = fs.Parse(args)
	cs, err := parseContenders(fs, false)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "startbench-trace")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	runs := make(map[*contender][][]trace.Event)
	for r := 0; r < *rounds+1; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			events, err := traceOnce(c, filepath.Join(dir, strconv.Itoa(r)+"-"+strconv.Itoa(i)))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if r > 0 { // the first round warms the caches
				runs[c] = append(runs[c], events)
			}
		}
	}
	for _, c := range cs {
		fmt.Printf("-- %s: %s\n", c.name, c.command)
		printWaterfall(runs[c])
		fmt.Println()
	}
	fmt.Printf("(medians of %d runs; ms since the caller started plugbox, +ms since the stage above; stages of other processes are timed by them on CLOCK_MONOTONIC, nsexec's on arrival in plugbox)\n", *rounds)
	return nil
}

func traceOnce(c *contender, path string) ([]trace.Event, error) {
	t0 := monotonic()
	_, out, err := run(argv(c.command, newID()), []string{trace.EnvFile + "=" + path, trace.EnvStart + "=" + strconv.FormatInt(t0, 10)})
	end := monotonic()
	if err != nil {
		return nil, err
	}
	events, err := readTrace(path)
	if err != nil {
		return nil, err
	}
	if t, ok := firstInstruction(out); ok {
		events = append(events, trace.Event{T: t, Stage: "plugin: first instruction"})
	}
	events = append(events, trace.Event{T: end, Stage: "caller: plugbox exited"})
	sortEvents(events)
	return events, nil
}

func readTrace(path string) ([]trace.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no trace written (is this plugbox?): %w", err)
	}
	defer f.Close()
	return trace.ReadFile(f)
}

func sortEvents(events []trace.Event) {
	sort.SliceStable(events, func(i, j int) bool { return events[i].T < events[j].T })
}

// pids matches the process IDs in libcontainer's messages, which differ
// from run to run.
var pids = regexp.MustCompile(`\b[0-9]{3,}\b`)

// printWaterfall merges runs: a stage is its text (the n-th time it
// occurs in a run), placed at its median time since the caller's exec.
func printWaterfall(runs [][]trace.Event) {
	type stage struct {
		name    string
		offsets []time.Duration
	}
	stages := map[string]*stage{}
	for _, events := range runs {
		var t0 int64
		for _, e := range events {
			if e.Stage == trace.StageExec {
				t0 = e.T
			}
		}
		if t0 == 0 && len(events) > 0 {
			t0 = events[0].T
		}
		seen := map[string]int{}
		for _, e := range events {
			name := pids.ReplaceAllString(strings.Join(strings.Fields(e.Stage), " "), "N")
			seen[name]++
			key := name
			if seen[name] > 1 {
				key = fmt.Sprintf("%s (#%d)", name, seen[name])
			}
			s := stages[key]
			if s == nil {
				s = &stage{name: key}
				stages[key] = s
			}
			s.offsets = append(s.offsets, time.Duration(e.T-t0))
		}
	}
	var list []*stage
	for _, s := range stages {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return median(list[i].offsets) < median(list[j].offsets) })
	fmt.Printf("%9s %8s  %s\n", "ms", "+ms", "stage")
	var prev time.Duration
	for _, s := range list {
		m := median(s.offsets)
		note := ""
		if len(s.offsets) < len(runs) {
			note = fmt.Sprintf(" [in %d of %d runs]", len(s.offsets), len(runs))
		}
		fmt.Printf("%9.2f %8.2f  %s%s\n", float64(m)/1e6, float64(m-prev)/1e6, s.name, note)
		prev = m
	}
}
