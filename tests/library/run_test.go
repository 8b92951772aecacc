package plugbox_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugbox/plugbox"
)

// TestRun runs a real plugin with stdin, stdout, stderr and two passed
// files: what it wrote, its exit status, the call seccomp denied it, and
// that the sandbox is gone once Run returns.
func TestRun(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "io", []string{"input", "output"}, "io")
	inPath := filepath.Join(e.work, "input.txt")
	if err := os.WriteFile(inPath, []byte("input-data"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(inPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	output := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(outR)
		output <- string(data)
	}()

	var stdout, stderr syncBuffer
	job := e.job(bundle)
	job.Stdin = strings.NewReader("stdin-data")
	job.Stdout, job.Stderr = &stdout, &stderr
	job.Files = []*os.File{in, outW}
	res, err := plugbox.Run(context.Background(), job)
	outW.Close()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := <-output; got != "out:input-data|stdin-data" {
		t.Errorf("the output descriptor got %q, want the input file and stdin", got)
	}
	if res.ExitCode != 7 || res.Reason != plugbox.ReasonExited || res.Signal != "" {
		t.Errorf("exit: code %d reason %q signal %q, want 7, %q, none", res.ExitCode, res.Reason, res.Signal, plugbox.ReasonExited)
	}
	if got := stdout.String(); got != "stdout ok; ptrace Operation not permitted\n" {
		t.Errorf("stdout %q: want the plugin's line, with ptrace refused (EPERM)", got)
	}
	if got := stderr.String(); got != "stderr ok\n" {
		t.Errorf("stderr %q: want only the plugin's line, nothing of plugbox's", got)
	}
	if !hasViolation(res.Violations, "ptrace") {
		t.Errorf("Violations %+v: want the denied ptrace", res.Violations)
	}
	for _, v := range res.Violations {
		if v.Pid <= 0 || v.Count < 1 || v.Arch == "" {
			t.Errorf("violation %+v: want a pid, an arch and a count", v)
		}
	}
	e.assertNothingLeft(t, res.ID)
}

func hasViolation(vs []plugbox.Violation, name string) bool {
	for _, v := range vs {
		if v.Syscall == name {
			return true
		}
	}
	return false
}

// TestRunCancel cancels the context of a running plugin: Run returns the
// context's error promptly, says the plugin was killed, and nothing of the
// sandbox is left.
func TestRunCancel(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := newSignalWriter("ready")
	job := e.job(bundle)
	job.Stdout = stdout
	go func() {
		select {
		case <-stdout.seen:
			cancel()
		case <-time.After(30 * time.Second):
		}
	}()
	start := time.Now()
	res, err := plugbox.Run(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: error %v, want context.Canceled", err)
	}
	if res == nil {
		t.Fatal("Run returned no Result for a plugin that had started")
	}
	if res.ExitCode != 128+int(syscall.SIGKILL) || res.Reason != plugbox.ReasonCancelled {
		t.Errorf("exit: code %d reason %q, want 137 (SIGKILL), %q", res.ExitCode, res.Reason, plugbox.ReasonCancelled)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Run took %s after the cancel: plugbox should kill and delete at once", d)
	}
	e.assertNothingLeft(t, res.ID)
}

// TestRunCancelDuringCreate cancels while the sandbox is still being
// created: Run returns the context's error and nothing is left.
func TestRunCancelDuringCreate(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	for _, after := range []time.Duration{time.Millisecond, 30 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		job := e.job(bundle)
		job.ID = "cancel-" + strings.ReplaceAll(after.String(), ".", "_")
		res, err := plugbox.Run(ctx, job)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancel after %s: Run: %v, %+v; want context.DeadlineExceeded", after, err, res)
		}
		e.assertNothingLeft(t, job.ID)
	}
}

// TestRunTimeout: Job.Timeout replaces the manifest's wall-clock limit and
// the Result says the limit killed the plugin.
func TestRunTimeout(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	job := e.job(bundle)
	job.Timeout = time.Second
	res, err := plugbox.Run(context.Background(), job)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitCode != 137 || res.Signal != "SIGKILL" || res.Reason != plugbox.ReasonTimeout || !strings.Contains(res.Detail, "1s") {
		t.Errorf("result %+v: want 137, SIGKILL, %q, the 1s limit named", res, plugbox.ReasonTimeout)
	}
	e.assertNothingLeft(t, res.ID)
}

// TestRunExitStatusIsNotAnError: a plugin that exits 1 is a Result, never
// an error, and plugbox's own failures are *plugbox.Error with plugbox's
// message, never a Result.
func TestRunExitStatusIsNotAnError(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "exit1", nil, "exit", "1")
	res, err := plugbox.Run(context.Background(), e.job(bundle))
	if err != nil || res.ExitCode != 1 || res.Reason != plugbox.ReasonExited {
		t.Fatalf("plugin exiting 1: %+v, %v; want ExitCode 1 and no error", res, err)
	}
	e.assertNothingLeft(t, res.ID)

	// plugbox refuses the ID: its message, and no Result.
	job := e.job(bundle)
	job.ID = "no/slash"
	res, err = plugbox.Run(context.Background(), job)
	var perr *plugbox.Error
	if !errors.As(err, &perr) || res != nil || !strings.Contains(perr.Message, "invalid container ID") {
		t.Errorf("invalid ID: %+v, %v; want a *plugbox.Error with plugbox's 'invalid container ID'", res, err)
	}

	// plugbox refuses a directory as a plugin descriptor.
	dirBundle := e.author(t, "dirfd", []string{"input"}, "exit", "0")
	dir, err := os.Open(e.work)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	job = e.job(dirBundle)
	job.Files = []*os.File{dir}
	res, err = plugbox.Run(context.Background(), job)
	if !errors.As(err, &perr) || res != nil || !strings.Contains(perr.Message, "directory or O_PATH") {
		t.Errorf("directory descriptor: %+v, %v; want plugbox's refusal", res, err)
	}
	e.assertNothingLeft(t, "no-sandbox-left")

	// The package checks the descriptor count against the manifest.
	job = e.job(dirBundle)
	if _, err := plugbox.Run(context.Background(), job); !errors.As(err, &perr) || !strings.Contains(err.Error(), "Job.Files has 0 descriptor(s); the bundle's manifest names 1 (input)") {
		t.Errorf("missing descriptor: %v", err)
	}
}
