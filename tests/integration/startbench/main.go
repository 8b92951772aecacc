// Command startbench times whole-process start-up of several OCI runtimes
// side by side: each round runs every command once, in a rotating order, so
// that machine noise hits all of them alike. It prints medians and ratios.
//
// Usage: startbench -n 40 NAME=COMMAND... (COMMAND is run with sh -c).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

type contender struct {
	name, command string
	times         []time.Duration
}

func main() {
	rounds := flag.Int("n", 40, "rounds (each runs every command once)")
	warmup := flag.Int("warmup", 3, "untimed rounds first")
	base := flag.String("base", "", "name of the contender ratios are relative to (default: the first)")
	flag.Parse()
	var cs []*contender
	for _, arg := range flag.Args() {
		name, cmd, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "startbench: %q: want NAME=COMMAND\n", arg)
			os.Exit(2)
		}
		cs = append(cs, &contender{name: name, command: cmd})
	}
	if len(cs) == 0 {
		fmt.Fprintln(os.Stderr, "startbench: no commands")
		os.Exit(2)
	}
	for r := 0; r < *warmup+*rounds; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			d, err := timeOnce(c.command)
			if err != nil {
				fmt.Fprintf(os.Stderr, "startbench: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			if r >= *warmup {
				c.times = append(c.times, d)
			}
		}
	}
	ref := cs[0]
	for _, c := range cs {
		if c.name == *base {
			ref = c
		}
	}
	refMedian := median(ref.times)
	w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
	fmt.Fprintf(w, "runtime\tmedian\tp10\tp90\tvs %s\n", ref.name)
	for _, c := range cs {
		m := median(c.times)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2fx\n", c.name, ms(m), ms(percentile(c.times, 10)), ms(percentile(c.times, 90)), float64(m)/float64(refMedian))
	}
	w.Flush()
	fmt.Printf("(%d rounds, interleaved, after %d warm-up rounds)\n", *rounds, *warmup)
}

func timeOnce(command string) (time.Duration, error) {
	cmd := exec.Command("sh", "-c", command)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
