// Package learn is plugbox's learning mode: it runs a plugin once under a
// filter that allows only the "base" group and sends every other call to
// the monitor, which records it and lets it continue, then derives the
// smallest default-deny profile (permission groups plus single calls)
// covering what the plugin really did. "plugbox trace" and package
// plugbox's Learn (through the binary) use it.
package learn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
	"github.com/plugbox/plugbox/seccompgen"
)

// Options is one learning run.
type Options struct {
	// ID names the run's container under the backend's root.
	ID string
	// Root is the backend's state root (where the monitor's log is).
	Root string
	// Bundle is the bundle's absolute directory and Spec its loaded
	// config.json, which Run changes only in memory.
	Bundle string
	Spec   *specs.Spec
	// Args replaces process.args for the run, when not empty.
	Args []string
	// PreserveFDs passes the caller's descriptors 3 .. 3+N-1 to the plugin.
	PreserveFDs int
}

// Result is what a run learned.
type Result struct {
	// Profile is the learned linux.seccomp.
	Profile *specs.LinuxSeccomp
	// Options are the groups, single calls and network mode it grants.
	Options seccompgen.Options
	// Distinct is how many distinct calls beyond "base" the plugin made.
	Distinct int
	// Status is the plugin's exit status (128+N for signal N); a failed
	// run may have missed calls of the paths it did not reach.
	Status int
}

// ErrCancelled is returned when ctx ended the run: the plugin was killed
// and nothing was learned.
var ErrCancelled = errors.New("learning run cancelled: the plugin was killed and nothing was learned")

// Run runs the plugin of opts once in learning mode on b and returns the
// profile it needs. The learned profile keeps the bundle's choice of EPERM
// or kill for denied calls. Cancelling ctx kills the plugin.
func Run(ctx context.Context, b sandbox.Backend, opts Options) (*Result, error) {
	spec := opts.Spec
	onViolation := violationOf(spec) // before the learning filter replaces it
	if len(opts.Args) > 0 {
		spec.Process.Args = opts.Args
	}
	learning, err := seccompgen.Generate(seccompgen.Options{Groups: []string{"base"}})
	if err != nil {
		return nil, err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	spec.Linux.Seccomp = learning
	c, err := b.Create(sandbox.CreateOptions{ID: opts.ID, Bundle: opts.Bundle, Spec: spec, Foreground: true, PreserveFDs: opts.PreserveFDs, Monitor: string(monitor.Learning)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Delete(true) }()
	if err := c.Start(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Signal(syscall.SIGKILL, true) })
	status, err := c.Wait()
	stop()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ErrCancelled
	}
	observed, err := readObserved(sandbox.ViolationLog(opts.Root, opts.ID))
	if err != nil {
		return nil, err
	}
	learned, err := seccompgen.Minimize(observed)
	if err != nil {
		return nil, err
	}
	learned.OnViolation = onViolation
	profile, err := seccompgen.Generate(learned)
	if err != nil {
		return nil, err
	}
	return &Result{Profile: profile, Options: learned, Distinct: len(observed), Status: status}, nil
}

// readObserved turns the monitor's log into distinct observed calls,
// reading it one record at a time. A log that misses calls (size cap, a
// write failure) is an error: the profile learned from it would deny them.
func readObserved(path string) ([]seccompgen.Observed, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return observedIn(f)
}

// observedIn is readObserved's reading of the log in r.
func observedIn(r io.Reader) ([]seccompgen.Observed, error) {
	seen := map[seccompgen.Observed]bool{}
	var out []seccompgen.Observed
	rd := monitor.NewReader(r)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if n := rec.Notice; n != nil {
			if n.Kind == monitor.NoticeDropped || n.Kind == monitor.NoticeLost || n.Kind == monitor.NoticeMonitorDied {
				return nil, fmt.Errorf("trace: the monitor could not record every call (%s), so a learned profile would deny some the plugin makes: %s", n.Kind, n.Message)
			}
			continue
		}
		o := seccompgen.Observed{Name: rec.Event.Syscall}
		copy(o.Args[:], rec.Event.Args)
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// violationOf is the bundle's choice of EPERM or kill for denied calls.
func violationOf(spec *specs.Spec) string {
	if spec.Linux != nil && spec.Linux.Seccomp != nil && spec.Linux.Seccomp.DefaultAction == specs.ActKillProcess {
		return seccompgen.ViolationKill
	}
	return seccompgen.ViolationErrno
}
