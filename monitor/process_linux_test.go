package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary serve as the monitor process, which Start
// runs as /proc/self/exe.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ProcessArg {
		Main()
	}
	os.Exit(m.Run())
}

// startPlugin starts a stand-in for a container's init and returns a pidfd
// of it and the channel its wait status arrives on.
func startPlugin(t *testing.T) (*os.File, <-chan syscall.WaitStatus) {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep to run: %v", err)
	}
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Skipf("pidfd_open: %v", err)
	}
	done := make(chan syscall.WaitStatus, 1)
	go func() {
		cmd.Wait()
		done <- cmd.ProcessState.Sys().(syscall.WaitStatus)
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return os.NewFile(uintptr(fd), "pidfd"), done
}

func TestSupervisorEnforcesTheWallClockLimitFromTheStart(t *testing.T) {
	dir := t.TempDir()
	startFile := filepath.Join(dir, "exec.fifo")
	if err := os.WriteFile(startFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pidfd, done := startPlugin(t)
	defer pidfd.Close()
	cfg := Config{ID: "c", Dir: dir, Log: filepath.Join(dir, "violations.jsonl"), Limits: DefaultLimits,
		Timeout: 300 * time.Millisecond, StartFile: startFile}
	p, err := Start(cfg, nil)
	if err == nil {
		err = p.Attach(pidfd, Cgroups{})
	}
	if err == nil {
		err = p.Ready()
	}
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ws := <-done:
		t.Fatalf("the plugin was killed (%v) before it started", ws)
	case <-time.After(700 * time.Millisecond):
	}
	if err := os.Remove(startFile); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	select {
	case ws := <-done:
		if took := time.Since(started); !ws.Signaled() || ws.Signal() != syscall.SIGKILL || took < 250*time.Millisecond || took > 2*time.Second {
			t.Errorf("plugin ended %v after the start: %v", took, ws)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin outlived its 300ms limit by 5s")
	}
	if !p.Wait(5 * time.Second) {
		t.Error("the supervisor did not finish after the plugin ended")
	}
	e, err := ReadEnd(dir)
	if err != nil || e == nil || e.Cause != CauseTimeout || e.Detail != "wall-clock limit 300ms exceeded" {
		t.Errorf("end: %+v, %v", e, err)
	}
	s, err := ReadStatus(dir)
	if err != nil || s == nil || !s.Finished || s.Started == nil || s.Timeout != "300ms" {
		t.Errorf("status: %+v, %v", s, err)
	}
}

func TestSupervisorEndsWithThePlugin(t *testing.T) {
	dir := t.TempDir()
	pidfd, done := startPlugin(t)
	defer pidfd.Close()
	p, err := Start(Config{ID: "c", Dir: dir, Log: filepath.Join(dir, "log"), Limits: DefaultLimits, Timeout: time.Minute}, nil)
	if err == nil {
		err = p.Attach(pidfd, Cgroups{})
	}
	if err == nil {
		err = p.Ready()
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadStatus(dir)
	if err != nil || s == nil || StateOf(s.Supervisor) != ProcRunning || s.Supervisor.Pid != p.Pid() {
		t.Fatalf("status of a running supervisor: %+v, %v", s, err)
	}
	if err := unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGTERM, nil, 0); err != nil {
		t.Fatal(err)
	}
	<-done
	if !p.Wait(5 * time.Second) {
		t.Fatal("the supervisor outlived the plugin")
	}
	if e, _ := ReadEnd(dir); e != nil {
		t.Errorf("an end recorded for a plugin that ended on its own: %v", e)
	}
	if s, _ := ReadStatus(dir); s == nil || !s.Finished || s.Health(StateOf, true).Problem != "" {
		t.Errorf("status after: %+v", s)
	}
}

func TestSupervisorEndsQuietlyWhenNoContainerIsAttached(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Config{ID: "c", Dir: dir, Log: filepath.Join(dir, "log"), Limits: DefaultLimits, Timeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The create failed before libcontainer made the container.
	p.closeControl()
	if !p.Wait(5 * time.Second) {
		t.Fatal("the supervisor waited for a container that never came")
	}
	if s, _ := ReadStatus(dir); s != nil {
		t.Errorf("a status for a container that never existed: %+v", s)
	}
}

func TestSupervisorRefusesACgroupItCannotJoin(t *testing.T) {
	dir := t.TempDir()
	pidfd, _ := startPlugin(t)
	defer pidfd.Close()
	p, err := Start(Config{ID: "c", Dir: dir, Log: filepath.Join(dir, "log"), Limits: DefaultLimits, MustJoin: true}, nil)
	if err == nil {
		err = p.Attach(pidfd, Cgroups{Join: []string{filepath.Join(dir, "no-such-cgroup")}})
	}
	if err == nil {
		err = p.Ready()
	}
	if err == nil || !strings.Contains(err.Error(), "join the container's cgroup") {
		t.Fatalf("Start: %v, want a failure to join", err)
	}
}

// TestStartRefusesToRecurse: a program that runs as a monitor process
// without dispatching to Main (a test binary, say) must not start monitors
// of its own, each another copy of it.
func TestStartRefusesToRecurse(t *testing.T) {
	t.Setenv(configEnv, "{}")
	if p, err := Start(Config{ID: "c", Dir: t.TempDir()}, nil); err == nil {
		p.Kill()
		t.Fatal("Start ran inside a monitor process that is not one")
	}
}
