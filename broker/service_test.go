//go:build linux || freebsd

package broker_test

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/broker/client"
)

// served starts a Service for policy on one end of a socket pair and
// returns a client of the other end and the records it made.
func served(t *testing.T, p *broker.Policy) (*client.Client, func() []broker.Record) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := broker.NewHost(p, nil)
	var mu sync.Mutex
	var recs []broker.Record
	s := &broker.Service{Host: host, Record: func(r broker.Record) {
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
	}}
	done := make(chan error, 1)
	go func() { done <- s.Serve(fds[1]) }()
	sock := os.NewFile(uintptr(fds[0]), "broker")
	t.Cleanup(func() {
		sock.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		unix.Close(fds[1])
		host.Close()
	})
	return client.New(sock), func() []broker.Record {
		mu.Lock()
		defer mu.Unlock()
		return append([]broker.Record(nil), recs...)
	}
}

func policy(t *testing.T, s broker.Spec) *broker.Policy {
	t.Helper()
	p, err := broker.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tree makes in/ (a.png, secret.txt, a link.png to a file outside), out/
// and outside/secret in a fresh directory.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"in", "out", "outside", "in/sub"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("in/a.png", "allowed")
	write("in/secret.txt", "next to it")
	write("outside/secret", "outside")
	write("in/sub/b.png", "one level down")
	if err := os.Symlink(filepath.Join(dir, "outside/secret"), filepath.Join(dir, "in/link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "outside"), filepath.Join(dir, "in/dirlink")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServiceOpen(t *testing.T) {
	dir := tree(t)
	p := policy(t, broker.Spec{Open: []broker.OpenSpec{
		{Path: dir + "/in/*.png", Access: broker.Read},
		{Path: dir + "/in/", Access: broker.Read},
		{Path: dir + "/out/", Access: broker.Create, Mode: "0640"},
	}})
	c, records := served(t, p)

	f, err := c.Open(dir+"/in/a.png", os.O_RDONLY)
	if err != nil {
		t.Fatalf("open an allowed file: %v", err)
	}
	data, _ := io.ReadAll(f)
	if string(data) != "allowed" {
		t.Errorf("read %q", data)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("writing through a read rule's descriptor: %v, want EBADF", err)
	}
	f.Close()

	for _, tc := range []struct {
		name, path string
		flag       int
		want       error
	}{
		{"write under a read rule", dir + "/in/a.png", os.O_RDWR, fs.ErrPermission},
		{"a symlink to a file outside", dir + "/in/link.png", os.O_RDONLY, syscall.ELOOP},
		{"through a symlinked directory", dir + "/in/dirlink/secret", os.O_RDONLY, syscall.ELOOP},
		{"dot-dot out", dir + "/in/../outside/secret", os.O_RDONLY, fs.ErrPermission},
		{"outside every rule", dir + "/outside/secret", os.O_RDONLY, fs.ErrPermission},
		{"the directory itself", dir + "/in/sub", os.O_RDONLY, syscall.EISDIR},
		{"missing", dir + "/in/none.png", os.O_RDONLY, fs.ErrNotExist},
		{"relative", "in/a.png", os.O_RDONLY, fs.ErrPermission},
		{"create next to the create rule", dir + "/in/new.png", os.O_WRONLY | os.O_CREATE | os.O_EXCL, fs.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := c.Open(tc.path, tc.flag)
			if err == nil {
				f.Close()
				t.Fatalf("open %s: granted", tc.path)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("open %s: %v, want %v", tc.path, err, tc.want)
			}
		})
	}

	// A new file in the create rule's directory, with the rule's mode.
	f, err = c.Open(dir+"/out/made.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	f.WriteString("made")
	f.Close()
	st, err := os.Stat(dir + "/out/made.txt")
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("the created file: %v, mode %v, want 0640", err, st.Mode())
	}
	if _, err := c.Open(dir+"/out/made.txt", os.O_WRONLY|os.O_CREATE); !errors.Is(err, fs.ErrExist) {
		t.Errorf("creating over an existing file: %v, want EEXIST", err)
	}

	var granted, refused int
	for _, r := range records() {
		if r.Via != "socket" || r.Op != "open" {
			t.Errorf("record %+v", r)
		}
		if r.Granted {
			granted++
		} else {
			refused++
			if r.Reason == "" {
				t.Errorf("a refusal without a reason: %+v", r)
			}
		}
	}
	if granted != 2 || refused != 10 {
		t.Errorf("%d grants and %d refusals recorded, want 2 and 10", granted, refused)
	}
}

func TestServiceConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("hello from the host\n"))
			conn.Close()
		}
	}()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sockDir := t.TempDir()
	uln, err := net.Listen("unix", sockDir+"/api.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	go func() {
		conn, err := uln.Accept()
		if err == nil {
			conn.Write([]byte("unix\n"))
			conn.Close()
		}
	}()
	allowed := "tcp:" + ln.Addr().String()
	p := policy(t, broker.Spec{Connect: []string{allowed, "unix:" + sockDir + "/api.sock", "tcp:localhost:1"}})
	c, _ := served(t, p)

	conn, err := c.Dial(allowed)
	if err != nil {
		t.Fatalf("connect %s: %v", allowed, err)
	}
	line, _ := io.ReadAll(conn)
	conn.Close()
	if string(line) != "hello from the host\n" {
		t.Errorf("read %q", line)
	}
	if conn, err := c.Dial("unix:" + sockDir + "/api.sock"); err != nil {
		t.Errorf("connect to the unix socket: %v", err)
	} else {
		conn.Close()
	}
	if _, err := c.Dial("tcp:" + other.Addr().String()); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("connect to another port: %v, want EACCES", err)
	}
	if _, err := c.Dial("tcp:localhost:1"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to a named host that refuses: %v, want ECONNREFUSED", err)
	}
	if _, err := c.Connect("tcp:127.0.0.1"); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "no rule") {
		t.Errorf("a malformed destination: %v", err)
	}
}

func TestServiceRefusesMalformedRequests(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &broker.Service{Host: broker.NewHost(policy(t, broker.Spec{}), nil)}
	done := make(chan error, 1)
	go func() { done <- s.Serve(fds[1]) }()
	// A request that passes a descriptor along: the broker closes it.
	r, w, _ := os.Pipe()
	defer r.Close()
	for _, msg := range []string{"hello", "open /x", "open /x read,bogus", strings.Repeat("x", broker.MaxMessage+10)} {
		var rights []byte
		if msg == "hello" {
			rights = unix.UnixRights(int(w.Fd()))
		}
		if err := unix.Sendmsg(fds[0], []byte(msg), rights, nil, 0); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, _, _, _, err := unix.Recvmsg(fds[0], buf, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(buf[:n]), "error EINVAL ") {
			t.Errorf("%.20q: reply %q", msg, buf[:n])
		}
	}
	w.Close()
	// The broker's copy of w is closed too: the pipe reads EOF.
	unix.SetNonblock(int(r.Fd()), true)
	if n, err := unix.Read(int(r.Fd()), make([]byte, 1)); n != 0 || err != nil {
		t.Errorf("the descriptor passed to the broker is still open (read %d, %v)", n, err)
	}
	unix.Close(fds[0])
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	unix.Close(fds[1])
}
