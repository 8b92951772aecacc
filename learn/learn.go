// Package learn is plugbox's learning mode: it runs a plugin once with
// every call sent to the monitor, which records it and lets it run (calls
// plugbox never grants are refused unless named), then derives the exact
// profile the plugin needs (seccompgen.Learn), with the bundle's own
// violation policy for everything else, and the manifest fields that would
// cover it. "plugbox trace" and package plugbox's Learn (through the
// binary) use it.
package learn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
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
	// AllowDenied names calls plugbox never grants that the run lets run
	// and learns (trace --allow-denied; check then rates the bundle HIGH).
	AllowDenied []string
	// Merge, when not nil, is what an earlier run learned: the profile
	// allows what either run used (trace --merge).
	Merge *seccompgen.Learned
}

// Result is what a run learned.
type Result struct {
	// Profile is the learned linux.seccomp.
	Profile *specs.LinuxSeccomp
	// Learned is its allowlist; Policy answers every other call.
	Learned *seccompgen.Learned
	Policy  seccompgen.Policy
	// Options are the manifest fields (groups, single calls, network)
	// that would cover the profile, rounded up to permission groups;
	// Uncovered lists what no manifest grants. ManifestErr, when set,
	// says why no manifest could be derived.
	Options     seccompgen.Options
	Uncovered   []string
	ManifestErr error
	// Ignored notes calls the plugin used that the bundle gives an action
	// of its own (the action is kept).
	Ignored []string
	// Refused lists the calls plugbox never grants that the plugin made:
	// they were refused (EPERM) and not learned.
	Refused []seccompgen.Refusal
	// Distinct is how many distinct calls the monitor saw.
	Distinct int
	// Status is the plugin's exit status (128+N for signal N); a failed
	// run may have missed calls of the paths it did not reach.
	Status int
}

// ErrCancelled is returned when ctx ended the run: the plugin was killed
// and nothing was learned.
var ErrCancelled = errors.New("learning run cancelled: the plugin was killed and nothing was learned")

// Run runs the plugin of opts once in learning mode on b and returns the
// profile it needs. Cancelling ctx kills the plugin.
func Run(ctx context.Context, b sandbox.Backend, opts Options) (*Result, error) {
	spec := opts.Spec
	if len(opts.Args) > 0 {
		spec.Process.Args = opts.Args
	}
	policy, err := bundle.ParseViolations(spec) // before learning replaces the profile
	if err != nil {
		return nil, err
	}
	for _, n := range opts.AllowDenied {
		if !seccompgen.KnownSyscall(n) {
			return nil, fmt.Errorf("allow-denied %q: not a syscall plugbox knows", n)
		}
	}
	specAllow := false
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		specAllow = slices.Contains(spec.Linux.Seccomp.Flags, specs.LinuxSeccompFlagSpecAllow)
	} else {
		// The monitor needs a profile to route; learning replaces it.
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	}
	c, err := b.Create(sandbox.CreateOptions{ID: opts.ID, Bundle: opts.Bundle, Spec: spec, Foreground: true,
		PreserveFDs: opts.PreserveFDs, Monitor: string(monitor.Learning), LearnAllow: opts.AllowDenied})
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
	learned, refused, err := seccompgen.Learn(observed, opts.AllowDenied)
	if err != nil {
		return nil, err
	}
	if opts.Merge != nil {
		if err := learned.Merge(opts.Merge); err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	profile, ignored, err := learned.Profile(policy, specAllow)
	if err != nil {
		return nil, err
	}
	res := &Result{Profile: profile, Learned: learned, Policy: policy, Ignored: ignored, Refused: refused,
		Distinct: len(observed), Status: status}
	res.Options, res.Uncovered, res.ManifestErr = learned.Manifest()
	return res, nil
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
