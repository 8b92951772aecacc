package plugbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LearnJob is one learning run ("plugbox trace"): the plugin runs once
// with a filter that lets every call through but the ones plugbox always
// denies, and the monitor records what it used.
type LearnJob struct {
	// Job is the run: Binary, Root, Bundle, streams and Files as for Run.
	// ID and Timeout are not used (the plugin runs until it exits or ctx
	// is cancelled).
	Job
	// Args replaces the plugin's argv for this run, when not empty: drive
	// it through the paths it will take in production.
	Args []string
	// Apply also writes the learned profile into the bundle's config.json.
	Apply bool
}

// Learned is what a learning run found: the profile that allows exactly
// the calls the plugin made (the bundle's violation policy answers the
// rest), and the manifest fields that would cover it. A plugin that calls
// what plugbox never grants (ptrace, mount, bpf ...) makes Learn fail,
// naming the calls.
type Learned struct {
	// Profile is the learned linux.seccomp.
	Profile *specs.LinuxSeccomp
	// Groups and Extra are the permission groups and single calls a
	// manifest would need to cover it (its "syscalls" and "extraSyscalls").
	Groups []string
	Extra  []string
	// Network is the network mode the calls need.
	Network string
	// Distinct is how many distinct calls (with the arguments that matter)
	// the plugin made.
	Distinct int
	// ExitCode is the plugin's exit status; a failed run may have missed
	// calls of the paths it did not reach.
	ExitCode int
}

// Learn runs job's plugin once in learning mode and returns the profile it
// needs. Cancelling ctx kills the plugin and deletes its sandbox, and
// nothing is learned.
func Learn(ctx context.Context, job LearnJob) (*Learned, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := newSandbox(job.Job)
	if err != nil {
		return nil, err
	}
	s.op = "trace"
	if s.io, err = newStdio(job.Job, false); err != nil {
		s.closeAll()
		return nil, &Error{Op: "trace", Err: err}
	}
	holdChild, err := s.openHold()
	if err != nil {
		s.closeAll()
		return nil, err
	}
	profile := filepath.Join(s.dir, "profile.json")
	args := globalArgs(job.Root, filepath.Join(s.dir, "log"))
	args = append(args, "trace", "--bundle", job.Bundle, "--output", profile,
		"--status-file", filepath.Join(s.dir, "status"),
		"--hold-fd", strconv.Itoa(3+len(job.Files)))
	if len(job.Files) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(job.Files)))
	}
	if job.Apply {
		args = append(args, "--apply")
	}
	if len(job.Args) > 0 {
		args = append(append(args, "--"), job.Args...)
	}
	s.cmd = s.newCommand(args)
	s.cmd.ExtraFiles = append(append([]*os.File{}, job.Files...), holdChild)
	err = s.launch()
	holdChild.Close() // plugbox has its copy
	if err != nil {
		s.closeAll()
		return nil, err
	}
	// trace's sandbox is named after its process.
	s.id = "trace-" + strconv.Itoa(s.cmd.Process.Pid)
	s.started = true
	s.watch(ctx)
	<-s.exited
	// The profile goes with the private directory: read it first.
	data, rerr := os.ReadFile(profile)
	res, err := s.finish()
	if err != nil {
		return nil, err
	}
	st := s.learned
	if rerr != nil || st == nil {
		return nil, &Error{Op: "trace", ID: s.id, Message: "plugbox wrote no learned profile"}
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, &Error{Op: "trace", ID: s.id, Message: fmt.Sprintf("learned profile: %v", err), Err: err}
	}
	return &Learned{Profile: &sc, Groups: st.Groups, Extra: st.Extra, Network: st.Network, Distinct: st.Distinct, ExitCode: res.ExitCode}, nil
}
