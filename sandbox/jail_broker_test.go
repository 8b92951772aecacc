package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/broker/client"
	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/jail"
	"github.com/plugbox/plugbox/jail/jailtest"
	"github.com/plugbox/plugbox/monitor"
)

// syncBuffer is a log the broker goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t *testing.T) []monitor.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev []monitor.Event
	r := monitor.NewReader(bytes.NewReader(s.b.Bytes()))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return ev
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event != nil {
			ev = append(ev, *rec.Event)
		}
	}
}

// capCalls returns the Capsicum calls s recorded.
func capCalls(s *jailtest.Fake) []string {
	var out []string
	for _, c := range s.Calls() {
		if strings.HasPrefix(c, "cap_") {
			out = append(out, c)
		}
	}
	return out
}

// TestJailBrokerLimitsEveryDescriptor: FreeBSD's broker (run here on Linux,
// its Capsicum calls on a recording fake) limits each descriptor to what
// its rule grants before the plugin gets it: a read rule's file can be read
// but not written, and has no CAP_LOOKUP to open others relative to it; a
// create rule's can be written; a connection is a socket; a refusal limits
// nothing and sends nothing. Every request is in the log.
func TestJailBrokerLimitsEveryDescriptor(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "in"), 0o755)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	os.WriteFile(filepath.Join(dir, "in/a.txt"), []byte("allowed"), 0o644)
	os.WriteFile(filepath.Join(dir, "in/b.txt"), []byte("not named"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	policy, err := broker.Compile(broker.Spec{
		Open:    []broker.OpenSpec{{Path: dir + "/in/a.txt", Access: "read"}, {Path: dir + "/out/", Access: "create"}},
		Connect: []string{"tcp:" + ln.Addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sys := jailtest.New()
	log := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- jailBrokerServe(sys, fds[1], policy, "c1", log) }()
	pluginEnd := os.NewFile(uintptr(fds[0]), "broker")
	plugin := client.New(pluginEnd)

	f, err := plugin.Open(dir+"/in/a.txt", os.O_RDONLY)
	if err != nil {
		t.Fatalf("open a read rule's file: %v", err)
	}
	f.Close()
	// RightNames folds CAP_READ|CAP_SEEK|CAP_MMAP into CAP_MMAP_R.
	read := capCalls(sys)
	if len(read) != 2 || !strings.Contains(read[0], "CAP_MMAP_R|") || strings.Contains(read[0], "CAP_WRITE") || strings.Contains(read[0], "CAP_MMAP_W") || strings.Contains(read[0], "CAP_LOOKUP") || !strings.HasPrefix(read[1], "cap_fcntls_limit") {
		t.Errorf("a read rule's file was limited by %q, want read rights without CAP_WRITE or CAP_LOOKUP, then its fcntls", read)
	}

	sys.Reset()
	if _, err := plugin.Open(dir+"/in/b.txt", os.O_RDONLY); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a file no rule names: %v", err)
	}
	if calls := capCalls(sys); len(calls) != 0 {
		t.Errorf("a refusal limited descriptors: %q", calls)
	}

	sys.Reset()
	f, err = plugin.Open(dir+"/out/new.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	f.Close()
	if calls := capCalls(sys); len(calls) < 1 || !strings.Contains(calls[0], "CAP_MMAP_W|") || strings.Contains(calls[0], "CAP_MMAP_R") || strings.Contains(calls[0], "CAP_READ") {
		t.Errorf("a created file was limited by %q, want write rights without read", calls)
	}

	sys.Reset()
	conn, err := plugin.Dial("tcp:" + ln.Addr().String())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	conn.Close()
	if calls := capCalls(sys); len(calls) != 3 || !strings.Contains(calls[0], "CAP_GETPEERNAME") || strings.Contains(calls[0], "CAP_ACCEPT") || !strings.HasPrefix(calls[2], "cap_ioctls_limit") {
		t.Errorf("a connection was limited by %q, want a connected socket's rights and ioctls", calls)
	}

	pluginEnd.Close()
	if err := <-done; err != nil {
		t.Errorf("jailBrokerServe: %v", err)
	}
	unix.Close(fds[1])
	var granted, refused int
	for _, e := range log.events(t) {
		if e.Broker == nil || e.Container != "c1" || e.Broker.Via != "socket" {
			t.Errorf("log line %+v", e)
			continue
		}
		if e.Action == monitor.ActionGranted {
			granted++
		} else {
			refused++
		}
	}
	if granted != 3 || refused != 1 {
		t.Errorf("log: %d grants, %d refusals, want 3 and 1", granted, refused)
	}
}

// TestJailCreateStartsBroker: create of a bundle with broker rules starts
// the broker outside the jail (its own session, the rules in its
// environment, the log in the state directory) and passes the plugin the
// other end of its socket right after the host's descriptors, where the
// helper keeps it and limits it as a socket under Capsicum; through it the
// plugin gets what the rules grant.
func TestJailCreateStartsBroker(t *testing.T) {
	r := newJailRig(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("allowed"), 0o644)
	spec := r.spec()
	spec.Annotations = map[string]string{
		bundle.AnnotationCapsicum: "true",
		bundle.AnnotationBroker:   `{"open":[{"path":"` + dir + `/a.txt","access":"read"}]}`,
	}
	// A static program: the helper reads its ELF header, and needs no
	// runtime linker for it.
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (a static executable; make deps installs busybox-static)")
	}
	r.helper.Files["/bin/plugin"] = "/bin/busybox"
	sockFD := jailtest.FD{Status: jail.ORdwr, Info: jail.FileInfo{Type: jail.KFTypeSocket}}
	r.helper.FDs[3] = sockFD
	brokerSys := jailtest.New()
	var brokerCmd *exec.Cmd
	var pluginEnd *os.File
	served := make(chan error, 1)
	dup := func(f *os.File) int {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	r.host.Start = func(cmd *exec.Cmd) (jail.Process, error) {
		if cmd.Args[1] == FreeBSDBrokerArg {
			brokerCmd = cmd
			policy, err := broker.Decode(strings.TrimPrefix(cmd.Env[0], jailBrokerEnv+"="))
			if err != nil {
				t.Fatal(err)
			}
			fd := dup(cmd.ExtraFiles[0])
			go func() { served <- jailBrokerServe(brokerSys, fd, policy, cmd.Args[2], io.Discard); unix.Close(fd) }()
			return jailtest.NewProcess(5151), nil
		}
		n := len(cmd.ExtraFiles)
		pluginEnd = os.NewFile(uintptr(dup(cmd.ExtraFiles[n-3])), "plugin-end")
		return r.start(cmd)
	}
	c, err := r.create("c1", spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	stateDir := filepath.Join(r.b.root, "c1")
	var starts []string
	for _, call := range r.host.Calls() {
		if strings.HasPrefix(call, "start ") {
			starts = append(starts, call)
		}
	}
	want := []string{
		fmt.Sprintf("start /usr/local/bin/plugbox %s c1 %s fds=4 setsid=true", FreeBSDBrokerArg, filepath.Join(stateDir, ViolationLogName)),
		"start /usr/local/bin/plugbox jail-init fds=6 setsid=true",
	}
	jailDiff(t, "process starts (host)", starts, want)
	if brokerCmd == nil || len(brokerCmd.Env) != 1 {
		t.Fatalf("broker command %+v: want the rules as its only environment", brokerCmd)
	}
	// The helper classifies descriptor 3, the broker's socket, for its
	// Capsicum limits.
	prep := strings.Join(r.helper.Calls(), "\n")
	if !strings.Contains(prep, "fcntl 3 F_KINFO") || !strings.Contains(prep, "getsockopt 3 SO_ACCEPTCONN") {
		t.Errorf("the helper did not keep the broker's socket as descriptor 3:\n%s", prep)
	}

	// The plugin's side.
	plugin := client.New(pluginEnd)
	f, err := plugin.Open(dir+"/a.txt", os.O_RDONLY)
	if err != nil {
		t.Fatalf("open through the broker: %v", err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if string(data) != "allowed" {
		t.Errorf("read %q", data)
	}
	if calls := capCalls(brokerSys); len(calls) == 0 || strings.Contains(calls[0], "CAP_WRITE") {
		t.Errorf("the broker limited the file by %q", calls)
	}
	// Started, the helper limits the broker's socket as a socket before
	// entering capability mode.
	r.helper.Reset()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.waitHelper(); !errors.Is(err, jailtest.ErrExeced) {
		t.Fatalf("helper: %v", err)
	}
	run := r.helper.Calls()
	if len(run) < 1 || run[0] != "close_range 4 flags=0x4" || !strings.Contains(strings.Join(run, "\n"), "cap_rights_limit 3 CAP_READ|CAP_WRITE|CAP_FCNTL|CAP_FSTAT|CAP_GETPEERNAME") {
		t.Errorf("the helper's run:\n%s", strings.Join(run, "\n"))
	}
	pluginEnd.Close()
	if err := <-served; err != nil {
		t.Errorf("the broker: %v", err)
	}
}
