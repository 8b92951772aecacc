// Package trace records when each stage of a sandbox start happens, as
// CLOCK_MONOTONIC timestamps, so that anyone can see where a start spends
// its time (plugbox --debug prints the waterfall; PLUGBOX_TRACE=FILE
// appends the events to FILE as JSON lines).
//
// CLOCK_MONOTONIC is one clock for the whole machine (plugbox never gives a
// container a time namespace), so the stages that other processes record
// (libcontainer's init, the exec shim, the plugin) line up with the CLI's.
// Recording is off unless Start was called: Mark is then one atomic load.
package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// EnvFile names the file that receives the events of every plugbox process
// of a start, one JSON Event a line (appended).
const EnvFile = "PLUGBOX_TRACE"

// EnvStart is an optional CLOCK_MONOTONIC time in nanoseconds, set by the
// caller right before it started plugbox, so the waterfall includes the
// process start and the Go runtime's initialisation.
const EnvStart = "PLUGBOX_TRACE_T0"

// StageExec is the stage recorded for EnvStart.
const StageExec = "caller: exec plugbox"

// Event is one stage: when it ended (or happened) and in which process.
type Event struct {
	T     int64  `json:"t"`   // CLOCK_MONOTONIC, nanoseconds
	PID   int    `json:"pid"` // the process that recorded it (0: unknown)
	Stage string `json:"stage"`
}

var (
	on     atomic.Bool
	mu     sync.Mutex
	events []Event
)

// Start turns recording on for this process.
func Start() { on.Store(true) }

// On reports whether this process records stages.
func On() bool { return on.Load() }

// Now is the CLOCK_MONOTONIC time in nanoseconds.
func Now() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Mark records that stage ends now in this process.
func Mark(stage string) {
	if !on.Load() {
		return
	}
	Add(Event{T: Now(), PID: os.Getpid(), Stage: stage})
}

// Add records an event another process timed (the shim, the init process).
func Add(e Event) {
	if !on.Load() {
		return
	}
	mu.Lock()
	events = append(events, e)
	mu.Unlock()
}

// Events returns what this process recorded, in time order.
func Events() []Event {
	mu.Lock()
	out := append([]Event(nil), events...)
	mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// AppendFile appends events to path, one JSON line each, in one write so
// that the processes of a start sharing the file do not interleave lines.
func AppendFile(path string, events []Event) error {
	var buf []byte
	for _, e := range events {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s %s: %w", EnvFile, path, err)
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", EnvFile, path, err)
	}
	return nil
}

// ReadFile decodes a file written by AppendFile.
func ReadFile(r io.Reader) ([]Event, error) {
	var out []Event
	dec := json.NewDecoder(r)
	for {
		var e Event
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("trace events: %w", err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out, nil
}

// WriteWaterfall prints events (in time order) as a waterfall: the time of
// each stage since the first, the time since the previous one, the process
// and the stage.
func WriteWaterfall(w io.Writer, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	t0, prev := events[0].T, events[0].T
	if _, err := fmt.Fprintf(w, "%9s %9s %7s  %s\n", "ms", "+ms", "pid", "stage"); err != nil {
		return err
	}
	for _, e := range events {
		if _, err := fmt.Fprintf(w, "%9.3f %9.3f %7d  %s\n", ms(e.T-t0), ms(e.T-prev), e.PID, e.Stage); err != nil {
			return err
		}
		prev = e.T
	}
	return nil
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
