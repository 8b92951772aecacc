package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// holdFlag is --hold-fd N of run and trace: a stream socket the caller
// holds, so that the caller's process, not plugbox, decides when the plugin
// starts and how long it may live (package plugbox drives run with it).
var holdFlag = &cli.IntFlag{Name: "hold-fd", Usage: "stream socket N (beyond --preserve-fds) the caller holds: see the verb's description"}

// holdHelp is the --hold-fd protocol, for the verbs' descriptions.
const holdHelp = `--hold-fd N names a stream socket (a socketpair end) inherited on
   descriptor N, which must come after the --preserve-fds descriptors; it is
   never passed to the plugin. run reports "created\n" on it once the
   container is created, then waits for one byte before it starts the plugin,
   and reports "started\n" once the plugin runs. End-of-file on it before the
   byte deletes the container and ends run with status 0; end-of-file after
   it (the caller closed it, or died) kills the plugin, which run then
   reports and deletes as usual. The caller's process thus stays the parent
   of the foreground run and receives its status.`

// hold is the plugbox end of a --hold-fd socket.
type hold struct {
	f *os.File
}

// openHold takes over --hold-fd, or returns nil without it. The socket
// becomes close-on-exec, so neither the plugin nor a helper inherits it.
func openHold(ctx *cli.Context) (*hold, error) {
	n := ctx.Int("hold-fd")
	if !ctx.IsSet("hold-fd") {
		return nil, nil
	}
	if ctx.Bool("detach") {
		return nil, errors.New("--hold-fd: needs a foreground run: drop --detach")
	}
	if first := 3 + ctx.Int("preserve-fds"); n < first {
		return nil, fmt.Errorf("--hold-fd %d: must be %d or more, after the --preserve-fds descriptors", n, first)
	}
	var st unix.Stat_t
	if err := unix.Fstat(n, &st); err != nil {
		return nil, fmt.Errorf("--hold-fd %d: the descriptor is not open: %w", n, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("--hold-fd %d: not a socket: pass one end of a stream socketpair", n)
	}
	unix.CloseOnExec(n)
	// Non-blocking, so that the runtime poller owns it and Close ends a
	// pending read.
	if err := unix.SetNonblock(n, true); err != nil {
		return nil, fmt.Errorf("--hold-fd %d: %w", n, err)
	}
	return &hold{f: os.NewFile(uintptr(n), "hold-fd-"+strconv.Itoa(n))}, nil
}

// created reports the created container and waits for the caller's go:
// false when the caller closed its end (or went away) instead.
func (h *hold) created() bool {
	if _, err := h.f.Write([]byte("created\n")); err != nil {
		return false
	}
	var b [1]byte
	n, _ := h.f.Read(b[:])
	return n == 1
}

// started reports that the plugin runs.
func (h *hold) started() {
	_, _ = h.f.Write([]byte("started\n"))
}

// watch calls gone once when the caller's end reaches end-of-file, until
// the returned stop is called. Bytes the caller sends are ignored.
func (h *hold) watch(gone func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			if _, err := h.f.Read(buf); err != nil {
				// EOF or a reset: the caller is gone. ErrClosed: stop ran.
				if !errors.Is(err, os.ErrClosed) {
					gone()
				}
				return
			}
		}
	}()
	return func() {
		h.f.Close()
		<-done
	}
}

// close releases the socket: the caller sees end-of-file.
func (h *hold) close() {
	if h != nil {
		h.f.Close()
	}
}
