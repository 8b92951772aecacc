package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"
)

// cold times whole-process runs of each command and prints medians and
// ratios to the base contender.
func cold(args []string) error {
	fs := flag.NewFlagSet("cold", flag.ExitOnError)
	rounds := fs.Int("n", 40, "rounds (each runs every command once)")
	warmup := fs.Int("warmup", 3, "untimed rounds first")
	base := fs.String("base", "", "the contender ratios are relative to (default: the first)")
	_ = fs.Parse(args)
	cs, err := parseContenders(fs, false)
	if err != nil {
		return err
	}
	times := make(map[*contender][]time.Duration)
	cpus := make(map[*contender][]time.Duration)
	for r := 0; r < *warmup+*rounds; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			d, cpu, _, err := runCPU(argv(c.command, newID()), nil)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if r >= *warmup {
				times[c] = append(times[c], d)
				cpus[c] = append(cpus[c], cpu)
			}
		}
	}
	ref := cs[0]
	for _, c := range cs {
		if c.name == *base {
			ref = c
		}
	}
	refMedian := median(times[ref])
	w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
	fmt.Fprintf(w, "case\tmedian\tp10\tp90\tvs %s\tCPU\n", ref.name)
	for _, c := range cs {
		m := median(times[c])
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2fx\t%s\n", c.name, ms(m), ms(percentile(times[c], 10)), ms(percentile(times[c], 90)), float64(m)/float64(refMedian), ms(median(cpus[c])))
	}
	w.Flush()
	fmt.Printf("(%d rounds, interleaved, after %d warm-up rounds; CPU: user+system of the command and the descendants it waited for, median)\n", *rounds, *warmup)
	return nil
}
