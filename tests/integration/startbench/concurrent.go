package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// concurrent starts c `run`s of each contender at once (one contender
// after the other) and reports runs per second and the latency spread.
func concurrent(args []string) error {
	fs := flag.NewFlagSet("concurrent", flag.ExitOnError)
	n := fs.Int("c", 100, "runs started at once")
	_ = fs.Parse(args)
	cs, err := parseContenders(fs, true)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
	fmt.Fprintf(w, "case\truns/s\tp50\tp99\tmax\tp99/p50\n")
	for _, c := range cs {
		if _, err := burst(c, 4); err != nil { // warm the caches
			return fmt.Errorf("%s: %w", c.name, err)
		}
		lat, wall, err := burstTimed(c, *n)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		fmt.Fprintf(w, "%s\t%.1f\t%s\t%s\t%s\t%.2f\n", c.name, float64(*n)/wall.Seconds(), ms(p50), ms(p99), ms(percentile(lat, 100)), float64(p99)/float64(p50))
	}
	w.Flush()
	fmt.Printf("(%d runs started at once per case, each its own container ID under one --root)\n", *n)
	return nil
}

func burst(c *contender, n int) ([]time.Duration, error) {
	lat, _, err := burstTimed(c, n)
	return lat, err
}

// burstTimed runs n `run`s at once; it returns each one's latency and the
// wall time until the last ended.
func burstTimed(c *contender, n int) ([]time.Duration, time.Duration, error) {
	rt := strings.Fields(c.runtime)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			lat[i], _, errs[i] = run(append(rt, "run", "--bundle", c.bundle, newID()), nil)
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return lat, wall, nil
}
