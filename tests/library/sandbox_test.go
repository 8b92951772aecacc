package plugbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"net"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox"
)

// TestSandboxChannel: a long-lived plugin answers many requests over the
// host channel within one start, its state goes created → running, and
// closing the channel ends it.
func TestSandboxChannel(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "echo", []string{plugbox.HostFD}, "echo")
	ctx := context.Background()
	s, err := plugbox.Create(ctx, e.job(bundle))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer s.Delete()
	if st, err := s.State(ctx); err != nil || st.Status != "created" || st.ID != s.ID() {
		t.Fatalf("State after Create: %+v, %v; want created", st, err)
	}
	ch := s.Channel()
	if ch == nil {
		t.Fatal("Create supplied no channel for a manifest naming \"host\"")
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := s.State(ctx)
	if err != nil || st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("State after Start: %+v, %v; want running with a pid", st, err)
	}
	req, reply := make([]byte, 1024), make([]byte, 1024)
	for i := range 200 {
		copy(req, fmt.Sprintf("request %d ", i))
		if _, err := ch.Write(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, err := io.ReadFull(ch, reply); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if !bytes.Equal(req, reply) {
			t.Fatalf("reply %d differs from the request", i)
		}
	}
	if err := ch.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Wait()
	if err != nil || res.ExitCode != 0 || res.Reason != plugbox.ReasonExited {
		t.Fatalf("Wait: %+v, %v; want exit 0 once the channel closed", res, err)
	}
	for _, v := range res.Violations {
		// Static glibc's start-up readlink of /proc/self/exe is denied
		// (group fs-read is not granted); nothing on the channel may be.
		if v.Syscall != "readlink" {
			t.Errorf("the echo plugin was denied %+v", v)
		}
	}
	e.assertNothingLeft(t, s.ID())
}

// TestSandboxDelete: Delete before the start runs nothing; Delete of a
// running plugin kills it; neither leaves anything behind.
func TestSandboxDelete(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	ctx := context.Background()

	s, err := plugbox.Create(ctx, e.job(bundle))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Delete(); err != nil {
		t.Errorf("Delete before Start: %v", err)
	}
	if _, err := s.Wait(); !errors.Is(err, plugbox.ErrNotStarted) {
		t.Errorf("Wait after a Delete before Start: %v, want ErrNotStarted", err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Delete succeeded")
	}
	e.assertNothingLeft(t, s.ID())

	stdout := newSignalWriter("ready")
	job := e.job(bundle)
	job.Stdout = stdout
	s, err = plugbox.Create(ctx, job)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-stdout.seen
	if err := s.Delete(); err != nil {
		t.Errorf("Delete of a running plugin: %v", err)
	}
	res, err := s.Wait()
	if err != nil || res.ExitCode != 137 || res.Reason != plugbox.ReasonCancelled {
		t.Errorf("Wait after Delete: %+v, %v; want 137, %q", res, err, plugbox.ReasonCancelled)
	}
	e.assertNothingLeft(t, s.ID())
}

// TestSandboxSignal: Signal reaches the plugin, and the Result names the
// signal. The plugin is its PID namespace's init, for which the kernel
// ignores signals it has no handler for; SIGKILL from outside still works.
func TestSandboxSignal(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	stdout := newSignalWriter("ready")
	job := e.job(bundle)
	job.Stdout = stdout
	s, err := plugbox.Create(context.Background(), job)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer s.Delete()
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-stdout.seen
	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	res, err := s.Wait()
	if err != nil || res.ExitCode != 137 || res.Signal != "SIGKILL" || res.Reason != plugbox.ReasonSignaled {
		t.Errorf("Wait: %+v, %v; want 137, SIGKILL, %q", res, err, plugbox.ReasonSignaled)
	}
	e.assertNothingLeft(t, s.ID())
}

// TestHostGone: when the host process dies, plugbox kills the plugin and
// deletes the sandbox (the hold socket reaches end-of-file). The host here
// is a child process of the test, killed with SIGKILL mid-run.
func TestHostGone(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "sleep", nil, "sleep")
	id := "host-gone"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The host dies without removing its private directory (status file,
	// log): make it under the test's work directory.
	cmd.Env = append(os.Environ(), "TMPDIR="+e.work, "PLUGBOX_LIBRARY_HOST="+strings.Join([]string{e.binary, e.root, bundle, id}, "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the host's plugin did not start: %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(e.root + "/" + id); errors.Is(err, os.ErrNotExist) && len(e.markedProcesses()) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// plugbox deletes after the kill; give its own exit a moment.
	time.Sleep(200 * time.Millisecond)
	e.assertNothingLeft(t, id)
}

// TestMain runs hostMain instead of the tests in TestHostGone's child.
func TestMain(m *testing.M) {
	if v := os.Getenv("PLUGBOX_LIBRARY_HOST"); v != "" {
		os.Exit(hostMain(strings.Split(v, "\n")))
	}
	os.Exit(m.Run())
}

// hostMain is a host that starts a sleeping plugin, relays its "ready" on
// stdout, and waits to be killed.
func hostMain(args []string) int {
	job := plugbox.Job{Binary: args[0], Root: args[1], Bundle: args[2], ID: args[3], Stdout: os.Stdout}
	s, err := plugbox.Create(context.Background(), job)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {}
}

// TestPool: a pool keeps sandboxes created; each job gets its own streams
// and its own sandbox, more jobs than the pool holds all run, and Close
// leaves nothing behind.
func TestPool(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "upper", nil, "upper")
	ctx := context.Background()
	p, err := plugbox.NewPool(ctx, e.job(bundle), 2)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	var ids sync.Map
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out syncBuffer
			in := fmt.Sprintf("job %d", i)
			res, err := p.Run(ctx, plugbox.Request{Stdin: strings.NewReader(in), Stdout: &out})
			if err != nil {
				t.Errorf("job %d: %v", i, err)
				return
			}
			if res.ExitCode != 0 || out.String() != strings.ToUpper(in) {
				t.Errorf("job %d: exit %d, stdout %q; want 0, %q", i, res.ExitCode, out.String(), strings.ToUpper(in))
			}
			if _, dup := ids.LoadOrStore(res.ID, i); dup {
				t.Errorf("job %d ran in sandbox %s, which another job had used", i, res.ID)
			}
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := p.Run(ctx, plugbox.Request{}); !errors.Is(err, plugbox.ErrPoolClosed) {
		t.Errorf("Run after Close: %v, want ErrPoolClosed", err)
	}
	e.assertNothingLeft(t, "pool")
}

// TestPoolIsWarm: a pooled job does not wait for the sandbox's creation,
// so it takes less time than Run.
func TestPoolIsWarm(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "exit0", nil, "exit", "0")
	ctx := context.Background()
	p, err := plugbox.NewPool(ctx, e.job(bundle), 1)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	defer p.Close()
	const rounds = 5
	var cold, warm time.Duration
	for range rounds {
		start := time.Now()
		if _, err := plugbox.Run(ctx, e.job(bundle)); err != nil {
			t.Fatal(err)
		}
		cold += time.Since(start)
		time.Sleep(300 * time.Millisecond) // let the pool refill
		start = time.Now()
		if _, err := p.Run(ctx, plugbox.Request{}); err != nil {
			t.Fatal(err)
		}
		warm += time.Since(start)
	}
	t.Logf("means over %d rounds, each to the plugin's end and the sandbox's deletion: Run %s, pooled Run %s", rounds, cold/rounds, warm/rounds)
	if warm >= cold {
		t.Errorf("a pooled start (%s) is not faster than a cold Run (%s)", warm/rounds, cold/rounds)
	}
}

// TestLearn learns a profile for the io plugin with its descriptors.
func TestLearn(t *testing.T) {
	e := newEnv(t)
	bundle := e.author(t, "learn", []string{"input", "output"}, "io")
	in, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	job := e.job(bundle)
	job.Files = []*os.File{in, out}
	// The io path tries ptrace, which plugbox never grants: learning
	// refuses it, and says so, rather than learn a profile that allows it.
	if _, err := plugbox.Learn(context.Background(), plugbox.LearnJob{Job: job}); err == nil || !strings.Contains(err.Error(), "ptrace") || !strings.Contains(err.Error(), "never grants") {
		t.Fatalf("Learn of a plugin calling ptrace: %v, want an error naming ptrace as never granted", err)
	}
	e.assertNothingLeft(t, "trace")
	l, err := plugbox.Learn(context.Background(), plugbox.LearnJob{Job: job, Args: []string{"/plugin", "exit", "7"}})
	if err != nil {
		t.Fatalf("Learn: %v", err)
	}
	if l.ExitCode != 7 || l.Profile == nil || l.Profile.DefaultAction == "" || len(l.Profile.Syscalls) == 0 {
		t.Errorf("Learned %+v: want exit 7 and a profile", l)
	}
	if !contains(l.Groups, "base") {
		t.Errorf("learned groups %v lack base", l.Groups)
	}
	e.assertNothingLeft(t, "trace")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// BenchmarkChannelRoundTrip: one 1 KiB request and its 1 KiB reply between
// the host and a long-lived echo plugin, sandboxed over the host channel
// and, for comparison, unsandboxed over a bare socketpair.
func BenchmarkChannelRoundTrip(b *testing.B) {
	e := newEnv(b)
	// Sub-benchmarks run several times (to find b.N): author once.
	bundle := e.author(b, "bench-echo", []string{plugbox.HostFD}, "echo")
	b.Run("bare", func(b *testing.B) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		child := os.NewFile(uintptr(fds[1]), "plugin-end")
		cmd := exec.Command(e.plugin, "echo")
		cmd.Env = []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=host"}
		cmd.ExtraFiles = []*os.File{child}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		child.Close()
		mine := os.NewFile(uintptr(fds[0]), "host-end")
		conn, err := netConn(mine)
		if err != nil {
			b.Fatal(err)
		}
		roundTrips(b, conn)
		conn.CloseWrite()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("sandbox", func(b *testing.B) {
		s, err := plugbox.Create(context.Background(), e.job(bundle))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Delete()
		if err := s.Start(); err != nil {
			b.Fatal(err)
		}
		roundTrips(b, s.Channel())
		s.Channel().CloseWrite()
		if res, err := s.Wait(); err != nil || res.ExitCode != 0 {
			b.Fatalf("echo plugin: %+v, %v", res, err)
		}
	})
}

// netConn makes a *net.UnixConn of a socket, as Sandbox.Channel is.
func netConn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// roundTrips sends b.N requests of 1 KiB on conn and reads each reply.
func roundTrips(b *testing.B, conn *net.UnixConn) {
	req, reply := make([]byte, 1024), make([]byte, 1024)
	for i := range req {
		req[i] = byte(i)
	}
	b.SetBytes(2 * 1024)
	b.ResetTimer()
	for range b.N {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !bytes.Equal(req, reply) {
		b.Fatal("the reply differs from the request")
	}
}
