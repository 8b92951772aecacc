// Command startbench measures container start-up: whole-process cold runs
// of several runtimes side by side, the start-up waterfall of plugbox
// (PLUGBOX_TRACE), the create/start split with the time from start to the
// plugin's first instruction, concurrent runs, and it writes the
// Docker-shaped reference seccomp profile the comparison uses.
//
//	startbench cold       [-n 40] [-base NAME] NAME=COMMAND...
//	startbench waterfall  [-n 10] NAME=COMMAND...
//	startbench warm       [-n 20] NAME=[lib:]RUNTIME::BUNDLE...
//	startbench concurrent [-c 100] NAME=RUNTIME::BUNDLE...
//	startbench profile    (the reference profile's linux.seccomp, on stdout)
//
// COMMAND is split on blanks (no shell) and every {id} in it becomes a
// fresh container ID. RUNTIME is an OCI runtime's command line up to the
// verb ("runc --root /tmp/r"); startbench adds "run --bundle BUNDLE ID",
// "create --bundle BUNDLE ID", "start ID" and "delete --force ID".
// With lib:, warm starts a plugbox container through the sandbox package
// in startbench's own process, as a host application would.
// Each round runs every contender once, in a rotating order, so that the
// noise of a shared machine hits all of them alike.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "cold":
		err = cold(args)
	case "waterfall":
		err = waterfall(args)
	case "warm":
		err = warm(args)
	case "concurrent":
		err = concurrent(args)
	case "profile":
		err = writeProfile(os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "startbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: startbench cold|waterfall|warm|concurrent|profile [flags] NAME=COMMAND... (see the package doc)")
	os.Exit(2)
}

// contender is one command line (or runtime and bundle) under test.
type contender struct {
	name    string
	command string // cold, waterfall: the whole command
	runtime string // warm, concurrent: the runtime's command line
	bundle  string
	// inProcess (warm, NAME=lib:RUNTIME::BUNDLE): plugbox's start is a
	// call of its sandbox package in this process, not its CLI.
	inProcess bool
}

func parseContenders(fs *flag.FlagSet, withBundle bool) ([]*contender, error) {
	var cs []*contender
	for _, arg := range fs.Args() {
		name, cmd, ok := strings.Cut(arg, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME=COMMAND", arg)
		}
		c := &contender{name: name, command: cmd}
		if withBundle {
			rt, b, ok := strings.Cut(cmd, "::")
			if !ok {
				return nil, fmt.Errorf("%q: want NAME=RUNTIME::BUNDLE", arg)
			}
			rt, c.inProcess = strings.CutPrefix(strings.TrimSpace(rt), "lib:")
			c.runtime, c.bundle = strings.TrimSpace(rt), strings.TrimSpace(b)
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return nil, errors.New("no contenders")
	}
	return cs, nil
}

var ids atomic.Int64

// newID is a container ID unique to this run of startbench.
func newID() string {
	return "sb" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(ids.Add(1), 10)
}

// argv splits command on blanks and puts id in place of {id}.
func argv(command, id string) []string {
	f := strings.Fields(command)
	for i := range f {
		f[i] = strings.ReplaceAll(f[i], "{id}", id)
	}
	return f
}

// run runs args and returns how long it took; its output is returned too.
func run(args []string, env []string) (time.Duration, []byte, error) {
	d, _, out, err := runCPU(args, env)
	return d, out, err
}

// runCPU is run that also returns the CPU time (user and system) of the
// process and of the descendants it waited for.
func runCPU(args []string, env []string) (wall, cpu time.Duration, output []byte, err error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return wall, cpu, out.Bytes(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out.Bytes())
	}
	return wall, cpu, out.Bytes(), nil
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, the clock plugbox's trace
// and the bench's plugin report.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// firstInstruction finds the plugin's report "first-instruction NS".
func firstInstruction(out []byte) (int64, bool) {
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "first-instruction "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
