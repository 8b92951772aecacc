// Command concbench measures throughput under concurrency: it starts N
// copies of one command at once (after a barrier, so they really overlap),
// waits for all of them, and prints runs per second over the batch's wall
// time and the p50/p99/max of the per-command times. "%d" in the command is
// replaced by the copy's index (0..N-1), so each can use its own container ID.
//
// Usage: concbench -n 50 [-batches 3] COMMAND   (COMMAND is run with sh -c)
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 50, "commands started at once")
	batches := flag.Int("batches", 3, "batches, one after another; each prints a line")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: concbench -n N [-batches B] COMMAND")
		os.Exit(2)
	}
	command := flag.Arg(0)
	var all []time.Duration
	var wallSum time.Duration
	for b := 0; b < *batches; b++ {
		times, wall, err := batch(command, *n, b)
		if err != nil {
			fmt.Fprintf(os.Stderr, "concbench: %v\n", err)
			os.Exit(1)
		}
		all = append(all, times...)
		wallSum += wall
		report(fmt.Sprintf("batch %d", b+1), times, wall)
	}
	if *batches > 1 {
		report("all", all, wallSum)
	}
}

// batch starts n copies of command together and returns each one's time
// and the wall time of the whole batch.
func batch(command string, n, b int) ([]time.Duration, time.Duration, error) {
	times := make([]time.Duration, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		idx := strconv.Itoa(b*n + i)
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(command, "%d", idx))
		ready.Add(1)
		done.Add(1)
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			times[i] = time.Since(t0)
			if err != nil {
				errs[i] = fmt.Errorf("copy %d: %v: %s", i, err, out)
			}
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return times, wall, nil
}

func report(label string, times []time.Duration, wall time.Duration) {
	sorted := append([]time.Duration(nil), times...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	fmt.Printf("%s: %d runs in %s: %.1f runs/s, p50 %s, p99 %s, max %s\n",
		label, len(sorted), ms(wall), float64(len(sorted))/wall.Seconds(),
		ms(pct(sorted, 50)), ms(pct(sorted, 99)), ms(sorted[len(sorted)-1]))
}

// pct returns the p-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	k := (p*len(sorted) + 99) / 100
	if k < 1 {
		k = 1
	}
	return sorted[k-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }
