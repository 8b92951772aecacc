package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// stdioOptions are the caller's streams and console socket for a new
// container or exec'd process.
type stdioOptions struct {
	Stdin, Stdout, Stderr *os.File
	ConsoleSocket         string
	Foreground            bool
}

// setupStdio wires the container process's standard streams: a pty sent to
// --console-socket, a pty relayed to the caller's terminal (foreground run),
// or the caller's own descriptors. The returned cleanup releases them.
func setupStdio(process *libcontainer.Process, opts stdioOptions, terminal bool) (cleanup func(), err error) {
	if !terminal {
		process.Stdin = orFile(opts.Stdin, os.Stdin)
		process.Stdout = orFile(opts.Stdout, os.Stdout)
		process.Stderr = orFile(opts.Stderr, os.Stderr)
		return func() {}, nil
	}
	if !opts.Foreground {
		conn, err := net.Dial("unix", opts.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("--console-socket %s: %w", opts.ConsoleSocket, err)
		}
		socket, err := conn.(*net.UnixConn).File()
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("--console-socket %s: %w", opts.ConsoleSocket, err)
		}
		process.ConsoleSocket = socket
		return func() { socket.Close() }, nil
	}
	return relayTerminal(process)
}

func orFile(f, fallback *os.File) *os.File {
	if f != nil {
		return f
	}
	return fallback
}

// relayTerminal receives the container's pty master over a socket pair and
// copies between it and the caller's terminal, which it puts in raw mode.
func relayTerminal(process *libcontainer.Process) (func(), error) {
	host, err := console.ConsoleFromFile(os.Stdin)
	if err != nil {
		return nil, errors.New(`process.terminal is true but standard input is not a terminal: set "terminal": false in config.json, or run from a terminal`)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket pair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "console-parent")
	child := os.NewFile(uintptr(fds[1]), "console-child")
	process.ConsoleSocket = child
	done := make(chan struct{})
	go func() {
		defer close(done)
		master, err := utils.RecvFile(parent)
		if err != nil {
			return
		}
		pty, err := console.ConsoleFromFile(master)
		if err != nil {
			master.Close()
			return
		}
		if size, err := host.Size(); err == nil {
			_ = pty.Resize(size)
		}
		_ = host.SetRaw()
		go func() { _, _ = io.Copy(pty, os.Stdin) }()
		_, _ = io.Copy(os.Stdout, pty)
		_ = host.Reset()
		pty.Close()
	}()
	return func() {
		child.Close()
		parent.Close()
		<-done
	}, nil
}
