package plugbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// HostFD is the descriptor name ("fds" in the manifest) under which Create
// hands the plugin its end of the host channel.
const HostFD = "host"

// killGrace is how long plugbox may take to kill and delete a sandbox the
// host let go of before the package kills plugbox and deletes the sandbox
// itself (plugbox delete --force).
const killGrace = 10 * time.Second

// ErrStarted is returned by Start on a sandbox already started.
var ErrStarted = errors.New("sandbox already started")

// ErrNotStarted is returned by Wait on a sandbox that was never started.
var ErrNotStarted = errors.New("sandbox not started")

// Sandbox is one created plugin sandbox: a "plugbox run --hold-fd" child
// process of the host, with the plugin waiting to be started. Its methods
// are safe for concurrent use.
type Sandbox struct {
	id, bin, root string
	dir           string // private: the status file and plugbox's log
	op            string // the verb plugbox runs: "run", or "trace"
	cmd           *exec.Cmd
	hold          *os.File      // the host's end of --hold-fd
	lines         chan string   // lines plugbox reports on hold
	channel       *net.UnixConn // the host's end of "host", or nil
	io            *stdio

	exited   chan struct{} // closed once plugbox exited
	waitErr  error         // plugbox's wait status, set before exited closes
	backstop chan struct{} // closed once the backstop is done; nil until released

	mu       sync.Mutex
	started  bool
	released bool  // hold closed: plugbox kills and deletes
	ctxErr   error // the context's error, when the context ended the sandbox
	stopCtx  func() bool

	finished sync.Once // finish's work
	res      *Result
	err      error
	learned  *learnedStatus // trace's result
}

// Create creates a sandbox for job.Bundle and returns once the plugin is
// ready to start (plugbox's "created" state): namespaces, mounts, cgroups
// and seccomp monitor are set up, and the plugin's process waits. Start
// runs the plugin, Wait waits for it, Delete removes the sandbox.
//
// If the bundle's manifest names HostFD ("host") in its "fds" and
// job.Files holds one descriptor fewer than the manifest names, Create
// supplies that one: one end of a stream socketpair, whose other end is
// Channel. The host can then send the plugin many requests without a start
// per request.
//
// ctx governs the sandbox's whole life, not only its creation: cancelling
// it kills the plugin and deletes the sandbox, and Wait returns the
// context's error.
func Create(ctx context.Context, job Job) (*Sandbox, error) {
	return create(ctx, job, false)
}

// create is Create; late defers the standard streams to Pool.Start.
func create(ctx context.Context, job Job, late bool) (*Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := newSandbox(job)
	if err != nil {
		return nil, err
	}
	// Until plugbox runs, a failure releases what was made here.
	var child, holdChild *os.File
	launched := false
	defer func() {
		for _, f := range []*os.File{child, holdChild} {
			if f != nil {
				f.Close() // plugbox has its copies, if it runs
			}
		}
		if !launched {
			s.closeAll()
		}
	}()
	names, err := fdNames(job.Bundle)
	if err != nil {
		return nil, &Error{Op: "run", ID: s.id, Message: err.Error(), Err: err}
	}
	files, child, err := s.plugFiles(job.Files, names)
	if err != nil {
		return nil, err
	}
	if s.io, err = newStdio(job, late); err != nil {
		return nil, &Error{Op: "run", ID: s.id, Err: err}
	}
	if holdChild, err = s.openHold(); err != nil {
		return nil, err
	}
	s.cmd = s.newCommand(runArgs(&job, s.id, s.dir, len(files)))
	s.cmd.ExtraFiles = append(slices.Clone(files), holdChild)
	if err := s.launch(); err != nil {
		return nil, err
	}
	launched = true
	// plugbox's copies are its own now; ours would hide its end-of-file.
	child.Close()
	holdChild.Close()
	child, holdChild = nil, nil
	if err := s.expect(ctx, "created"); err != nil {
		return nil, err
	}
	s.watch(ctx)
	return s, nil
}

// newSandbox checks job and makes the sandbox's private directory.
func newSandbox(job Job) (*Sandbox, error) {
	bin, err := binaryPath(job.Binary)
	if err != nil {
		return nil, err
	}
	id := job.ID
	if id == "" {
		id = newID()
	}
	if job.Bundle == "" {
		return nil, &Error{Op: "run", ID: id, Message: "Job.Bundle is empty: name a bundle directory, e.g. one written by Author"}
	}
	dir, err := os.MkdirTemp("", "plugbox-job-")
	if err != nil {
		return nil, &Error{Op: "run", ID: id, Err: err}
	}
	return &Sandbox{id: id, bin: bin, root: job.Root, dir: dir, op: "run", exited: make(chan struct{}), lines: make(chan string, 2)}, nil
}

// fdNames reads the descriptor names the bundle's config.json expects
// (annotation org.plugbox.fdnames, written from the manifest's "fds").
func fdNames(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("Job.Bundle %s: %w", dir, err)
	}
	var cfg struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("Job.Bundle %s: config.json: %w", dir, err)
	}
	names, ok := cfg.Annotations["org.plugbox.fdnames"]
	if !ok || names == "" {
		return nil, nil
	}
	return strings.Split(names, ":"), nil
}

// plugFiles lays out the plugin's descriptors: files in the order of
// names, with the channel's far end (returned as child) inserted at
// HostFD's place when files lacks exactly that one.
func (s *Sandbox) plugFiles(files []*os.File, names []string) (all []*os.File, child *os.File, err error) {
	host := slices.Index(names, HostFD)
	switch {
	case len(files) == len(names):
		return files, nil, nil
	case host < 0 || len(files) != len(names)-1:
		want := fmt.Sprintf("%d (%s)", len(names), strings.Join(names, ", "))
		if len(names) == 0 {
			want = "none"
		}
		if host >= 0 {
			want += fmt.Sprintf(", or %d without %q, which Create supplies", len(names)-1, HostFD)
		}
		return nil, nil, &Error{Op: "run", ID: s.id, Message: fmt.Sprintf("Job.Files has %d descriptor(s); the bundle's manifest names %s: pass one per name, in that order", len(files), want)}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &Error{Op: "run", ID: s.id, Message: "host channel: " + err.Error(), Err: err}
	}
	mine := os.NewFile(uintptr(fds[0]), "plugbox-host")
	child = os.NewFile(uintptr(fds[1]), "plugbox-host-plugin")
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		child.Close()
		return nil, nil, &Error{Op: "run", ID: s.id, Message: "host channel: " + err.Error(), Err: err}
	}
	s.channel = conn.(*net.UnixConn)
	all = slices.Insert(slices.Clone(files), host, child)
	return all, child, nil
}

// openHold makes the --hold-fd socketpair and returns plugbox's end.
func (s *Sandbox) openHold() (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Op: s.op, ID: s.id, Message: "hold socket: " + err.Error(), Err: err}
	}
	// Non-blocking, so that the runtime poller owns it: then Close ends
	// the pending read of the reporting goroutine and really closes the
	// socket, which is what tells plugbox to stop.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, &Error{Op: s.op, ID: s.id, Message: "hold socket: " + err.Error(), Err: err}
	}
	s.hold = os.NewFile(uintptr(fds[0]), "plugbox-hold")
	return os.NewFile(uintptr(fds[1]), "plugbox-hold-child"), nil
}

// newCommand is plugbox with args.
func (s *Sandbox) newCommand(args []string) *exec.Cmd { return exec.Command(s.bin, args...) }

// launch starts plugbox with the sandbox's streams, in its own process
// group (a terminal's ^C is for the host, which decides through ctx), and
// starts reading what it reports on the hold socket.
func (s *Sandbox) launch() error {
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = s.io.child[0], s.io.child[1], s.io.child[2]
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := s.cmd.Start()
	s.io.started()
	if err != nil {
		return &Error{Op: s.op, ID: s.id, Message: fmt.Sprintf("start %s: %v", s.bin, err), Err: err}
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	go func() {
		defer close(s.lines)
		r := bufio.NewReader(s.hold)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			s.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return nil
}

// expect waits for plugbox to report want on the hold socket. Its closing
// the socket instead means it failed: the error is plugbox's message.
func (s *Sandbox) expect(ctx context.Context, want string) error {
	select {
	case line, ok := <-s.lines:
		if ok && line == want {
			return nil
		}
		s.release(nil)
		<-s.exited
		_, err := s.finish()
		if ok {
			return &Error{Op: s.op, ID: s.id, Message: fmt.Sprintf("reported %q on --hold-fd, want %q", line, want)}
		}
		if err == nil {
			err = &Error{Op: s.op, ID: s.id, Message: "plugbox ended the sandbox before it reported " + want}
		}
		return err
	case <-ctx.Done():
		s.release(ctx.Err())
		<-s.exited
		s.finish()
		return ctx.Err()
	}
}

// watch ties the rest of the sandbox's life to ctx.
func (s *Sandbox) watch(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { s.release(ctx.Err()) })
	s.mu.Lock()
	s.stopCtx = stop
	s.mu.Unlock()
}

// rebind moves the sandbox to a new governing context (a pooled sandbox
// taken for a job).
func (s *Sandbox) rebind(ctx context.Context) {
	s.mu.Lock()
	if s.stopCtx != nil {
		s.stopCtx()
	}
	s.mu.Unlock()
	s.watch(ctx)
}

// release closes the hold socket, on which plugbox kills the plugin (or,
// before the start, nothing ran) and deletes the sandbox; should plugbox
// not finish within killGrace, the backstop kills it and deletes the
// sandbox itself. ctxErr is the context's error when a context ended it.
func (s *Sandbox) release(ctxErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	if s.ctxErr == nil {
		s.ctxErr = ctxErr
	}
	s.hold.Close()
	s.backstop = make(chan struct{})
	go s.runBackstop(s.backstop)
}

func (s *Sandbox) runBackstop(done chan struct{}) {
	defer close(done)
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-s.exited:
		return
	case <-t.C:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = command(ctx, s.bin, s.root, "delete", s.id, "--force", s.id)
	s.io.abort()
}

// ID returns the sandbox's ID under its state root.
func (s *Sandbox) ID() string { return s.id }

// Channel returns the host's end of the plugin's HostFD descriptor, or nil
// when Create did not supply one. Wait and Delete close it.
func (s *Sandbox) Channel() *net.UnixConn { return s.channel }

// Start runs the plugin and returns once it runs (plugbox's "running").
func (s *Sandbox) Start() error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrStarted
	}
	if s.released {
		s.mu.Unlock()
		return &Error{Op: "start", ID: s.id, Message: "the sandbox was deleted or its context cancelled"}
	}
	s.started = true
	s.mu.Unlock()
	if _, err := s.hold.Write([]byte{'s'}); err != nil {
		s.release(nil)
		<-s.exited
		if _, err := s.finish(); err != nil {
			return err
		}
		return &Error{Op: "start", ID: s.id, Message: "plugbox ended before the start: " + err.Error(), Err: err}
	}
	return s.expect(context.Background(), "started")
}

// Wait waits until the plugin has exited and the sandbox is deleted, and
// returns how the plugin ended. The error is an *Error when plugbox itself
// failed (then the Result may be nil), or the context's error when the
// context ended the sandbox (the Result says how the plugin was killed).
// Every call returns the same.
func (s *Sandbox) Wait() (*Result, error) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil, ErrNotStarted
	}
	<-s.exited
	res, err := s.finish()
	if res == nil && err == nil {
		err = &Error{Op: s.op, ID: s.id, Message: "plugbox exited without a status file: is it older than this package?"}
	}
	return res, err
}

// finish collects plugbox's end once it exited: it waits for the backstop
// and the stream copies, reads the status file and removes the private
// directory. Every call returns the first one's answer.
func (s *Sandbox) finish() (*Result, error) {
	s.finished.Do(func() {
		s.mu.Lock()
		backstop, stop := s.backstop, s.stopCtx
		s.mu.Unlock()
		if backstop != nil {
			<-backstop
		}
		if stop != nil {
			stop()
		}
		s.io.wait()
		s.mu.Lock()
		ctxErr := s.ctxErr
		s.mu.Unlock()
		s.res, s.err = s.collect(ctxErr)
		s.closeAll()
	})
	return s.res, s.err
}

// collect turns the status file into the Result; ctxErr is the context's
// error when the context ended the sandbox.
func (s *Sandbox) collect(ctxErr error) (*Result, error) {
	st, err := readStatus(filepath.Join(s.dir, "status"))
	if err != nil {
		return nil, &Error{Op: s.op, ID: s.id, Err: err}
	}
	if st == nil || st.ExitCode == nil {
		if ctxErr != nil {
			return nil, ctxErr
		}
		return nil, s.failureFrom(st)
	}
	res := st.result(s.id)
	s.learned = st.Learned
	if st.Error != "" {
		return res, &Error{Op: s.op, ID: s.id, Message: st.Error}
	}
	return res, ctxErr
}

// failureFrom names what plugbox said: the status file's error, else its
// log's last error, else its exit status.
func (s *Sandbox) failureFrom(st *status) error {
	if st != nil && st.Error != "" {
		return &Error{Op: s.op, ID: s.id, Message: st.Error}
	}
	if msg := lastLogError(filepath.Join(s.dir, "log")); msg != "" {
		return &Error{Op: s.op, ID: s.id, Message: msg}
	}
	if s.waitErr == nil {
		return nil // it ran nothing and failed at nothing: deleted before the start
	}
	return &Error{Op: s.op, ID: s.id, Message: fmt.Sprintf("plugbox ended (%v) without saying why", s.waitErr), Err: s.waitErr}
}

// closeAll releases the host's descriptors and the private directory.
func (s *Sandbox) closeAll() {
	if s.hold != nil {
		s.hold.Close()
	}
	if s.channel != nil {
		s.channel.Close()
	}
	if s.io != nil {
		s.io.close()
	}
	os.RemoveAll(s.dir)
}

// Delete kills the plugin if it runs and removes the sandbox; it returns
// once nothing of it is left (state directory, cgroups, processes). The
// error is plugbox's, when it failed to remove the sandbox. After Delete,
// Wait returns the plugin's end if it had been started.
func (s *Sandbox) Delete() error {
	s.release(nil)
	<-s.exited
	_, err := s.finish()
	var perr *Error
	if errors.As(err, &perr) {
		return err
	}
	return nil
}

// Signal sends sig to the plugin's process (plugbox kill).
func (s *Sandbox) Signal(sig syscall.Signal) error {
	_, err := command(context.Background(), s.bin, s.root, "kill", s.id, s.id, strconv.Itoa(int(sig)))
	return err
}

// State is a sandbox's state, as "plugbox state" prints it.
type State struct {
	ID string `json:"id"`
	// Status is "creating", "created", "running" or "stopped".
	Status string `json:"status"`
	// Pid is the plugin's host PID.
	Pid int `json:"pid"`
	// Bundle is the bundle's directory.
	Bundle string `json:"bundle"`
	// Created is when the sandbox was created.
	Created time.Time `json:"created"`
	// Annotations are config.json's, plus the org.plugbox.enforced.* ones
	// that say what plugbox really enforces.
	Annotations map[string]string `json:"annotations"`
}

// State returns the sandbox's state.
func (s *Sandbox) State(ctx context.Context) (*State, error) {
	out, err := command(ctx, s.bin, s.root, "state", s.id, s.id)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, &Error{Op: "state", ID: s.id, Message: "unreadable state: " + err.Error(), Err: err}
	}
	return &st, nil
}

// Violations returns the calls seccomp has denied so far in a sandbox that
// has not ended yet; once it has, they are in Result.Violations.
func (s *Sandbox) Violations(ctx context.Context) ([]Violation, error) {
	out, err := command(ctx, s.bin, s.root, "violations", s.id, "--format", "json", s.id)
	if err != nil {
		return nil, err
	}
	var recs []rawRecord
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r rawRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, &Error{Op: "violations", ID: s.id, Message: "unreadable record: " + err.Error(), Err: err}
		}
		recs = append(recs, r)
	}
	return violations(recs), nil
}
