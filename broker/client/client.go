//go:build linux || freebsd

// Package client is the plugin's side of plugbox's explicit broker
// protocol: it asks the host, over the descriptor named "broker"
// (LISTEN_FDNAMES), for the files and connections the plugin's manifest
// grants, and returns them as descriptors. It needs nothing but the
// standard library and x/sys; broker.h beside it is the same for C.
//
//	c, err := client.FromEnv()
//	f, err := c.Open("/srv/in/photo.png", os.O_RDONLY)
//	conn, err := c.Dial("tcp:127.0.0.1:8080")
//
// Errors are *Error values that wrap the errno the broker named: EACCES
// (fs.ErrPermission) when no rule grants the request, ENOENT
// (fs.ErrNotExist), EEXIST, ELOOP, EISDIR, ECONNREFUSED, EHOSTUNREACH.
package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNoBroker means the plugin has no descriptor named "broker": its
// manifest has no broker section, or it runs outside plugbox.
var ErrNoBroker = errors.New("no broker descriptor (LISTEN_FDNAMES names none called \"broker\")")

// Client talks to the broker. It is safe for concurrent use: requests are
// answered one at a time.
type Client struct {
	mu   sync.Mutex
	sock *os.File
}

// FromEnv returns the client of the descriptor LISTEN_FDNAMES names
// "broker" (descriptors 3.., in the order named).
func FromEnv() (*Client, error) {
	names := os.Getenv("LISTEN_FDNAMES")
	if names == "" {
		return nil, ErrNoBroker
	}
	for i, n := range strings.Split(names, ":") {
		if n == "broker" {
			fd := 3 + i
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
				return nil, fmt.Errorf("broker descriptor %d: %w", fd, err)
			}
			unix.CloseOnExec(fd)
			return New(os.NewFile(uintptr(fd), "broker")), nil
		}
	}
	return nil, ErrNoBroker
}

// New returns the client of broker socket f.
func New(f *os.File) *Client { return &Client{sock: f} }

// Error is a request the broker refused or could not carry out.
type Error struct {
	// Op is "open" or "connect"; Target the path or destination.
	Op, Target string
	// Errno is the broker's errno, in this system's numbering.
	Errno syscall.Errno
	// Message is the broker's explanation.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("broker %s %s: %v: %s", e.Op, e.Target, e.Errno, e.Message)
}

// Unwrap returns the errno, so errors.Is(err, fs.ErrPermission) works.
func (e *Error) Unwrap() error { return e.Errno }

// Open asks the broker to open path with os.OpenFile flags (os.O_RDONLY,
// os.O_WRONLY or os.O_RDWR with os.O_CREATE, os.O_EXCL, os.O_TRUNC,
// os.O_APPEND, os.O_SYNC). The file is close-on-exec.
func (c *Client) Open(path string, flag int) (*os.File, error) {
	words := "read"
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_WRONLY:
		words = "write"
	case os.O_RDWR:
		words = "readwrite"
	}
	for _, m := range []struct {
		bit  int
		word string
	}{{os.O_CREATE, "create"}, {os.O_EXCL, "excl"}, {os.O_TRUNC, "trunc"}, {os.O_APPEND, "append"}, {os.O_SYNC, "sync"}} {
		if flag&m.bit != 0 {
			words += "," + m.word
		}
	}
	fd, err := c.request("open", path, "open "+path+" "+words)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Connect asks the broker for a connection to dest, named as the
// manifest names it ("tcp:127.0.0.1:8080", "unix:/run/app/api.sock"),
// and returns the connected socket.
func (c *Client) Connect(dest string) (*os.File, error) {
	fd, err := c.request("connect", dest, "connect "+dest)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), dest), nil
}

// Dial is Connect as a net.Conn.
func (c *Client) Dial(dest string) (net.Conn, error) {
	f, err := c.Connect(dest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileConn(f)
}

func (c *Client) request(op, target, msg string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd := int(c.sock.Fd())
	// write(2) and recvmsg(2) are what plugbox's profile allows a plugin
	// with broker rules.
	for {
		_, err := unix.Write(fd, []byte(msg))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("broker %s %s: %w", op, target, err)
		}
		break
	}
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	for {
		var err error
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("broker %s %s: %w", op, target, err)
		}
		break
	}
	if n == 0 && oobn == 0 {
		return -1, fmt.Errorf("broker %s %s: the broker closed its socket", op, target)
	}
	got := -1
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for i := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				for _, f := range fds {
					if got < 0 {
						got = f
					} else {
						unix.Close(f)
					}
				}
			}
		}
	}
	reply := string(buf[:n])
	if reply == "ok" && got >= 0 {
		return got, nil
	}
	if got >= 0 {
		unix.Close(got)
	}
	rest, ok := strings.CutPrefix(reply, "error ")
	if !ok {
		return -1, fmt.Errorf("broker %s %s: malformed reply %q", op, target, reply)
	}
	name, text, _ := strings.Cut(rest, " ")
	return -1, &Error{Op: op, Target: target, Errno: errnoOf(name), Message: text}
}

// errnoOf maps the protocol's errno names to this system's numbers.
func errnoOf(name string) syscall.Errno {
	switch name {
	case "EACCES":
		return unix.EACCES
	case "ENOENT":
		return unix.ENOENT
	case "EEXIST":
		return unix.EEXIST
	case "ELOOP":
		return unix.ELOOP
	case "EINVAL":
		return unix.EINVAL
	case "EISDIR":
		return unix.EISDIR
	case "ECONNREFUSED":
		return unix.ECONNREFUSED
	case "EHOSTUNREACH":
		return unix.EHOSTUNREACH
	}
	return unix.EIO
}
