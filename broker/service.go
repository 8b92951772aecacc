//go:build linux || freebsd

package broker

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Service answers the explicit protocol on one socket: the plugin's
// requests, one at a time, each with a descriptor or an error.
type Service struct {
	Host *Host
	// Record receives every grant and refusal; it may be nil.
	Record func(Record)
}

// Serve answers requests on conn (a SOCK_SEQPACKET socket) until the
// plugin's end is closed.
func (s *Service) Serve(conn int) error {
	for {
		closed, err := s.ServeOne(conn)
		if closed || err != nil {
			return err
		}
	}
}

// ServeOne reads one request from conn and answers it; closed reports
// that the plugin's end is closed (there will be no more). It blocks until
// a request arrives: a caller that multiplexes polls conn first.
func (s *Service) ServeOne(conn int) (closed bool, err error) {
	buf := make([]byte, MaxMessage+1)
	oob := make([]byte, unix.CmsgSpace(4*8))
	var n, oobn, flags int
	for {
		n, oobn, flags, _, err = unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.ECONNRESET) {
			return true, nil
		}
		return true, fmt.Errorf("broker socket: %w", err)
	}
	dropRights(oob[:oobn])
	if n == 0 && oobn == 0 {
		return true, nil // the plugin's end is closed
	}
	var reply []byte
	fd := -1
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > MaxMessage {
		reply = FormatError(ErrInvalid, fmt.Sprintf("a request is at most %d bytes", MaxMessage))
	} else {
		fd, reply = s.answer(buf[:n])
	}
	var rights []byte
	if fd >= 0 {
		rights = unix.UnixRights(fd)
	}
	err = unix.Sendmsg(conn, reply, rights, nil, unix.MSG_NOSIGNAL)
	if fd >= 0 {
		unix.Close(fd)
	}
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("broker socket: reply: %w", err)
	}
	return false, nil
}

// dropRights closes descriptors a plugin sent along with a request.
func dropRights(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}
}

// answer decides one request and returns the descriptor to send (-1 for
// none) and the reply.
func (s *Service) answer(msg []byte) (int, []byte) {
	req, err := ParseRequest(msg)
	if err != nil {
		return -1, FormatError(ErrInvalid, err.Error())
	}
	rec := Record{Op: req.Op, Via: "socket"}
	var fd int
	switch req.Op {
	case "open":
		rec.Target, rec.Access = req.Open.Path, req.Open.Access()
		d := s.Host.policy.DecideOpen(req.Open)
		if !d.Granted() && d.Reason == "" {
			d.Reason = "no rule names this file"
		}
		var rule *FileRule
		fd, rule, err = s.Host.Open(req.Open, d)
		if rule != nil {
			rec.Rule = rule.Field
		}
	case "connect":
		rec.Target = req.Dest
		dest := s.Host.policy.Lookup(req.Dest)
		if dest == nil {
			fd, err = -1, refusal(ErrDenied, "no rule names this destination")
			break
		}
		rec.Rule = dest.Field
		fd, err = s.Host.ConnectNamed(dest)
	}
	if err != nil {
		rec.Reason = err.Error()
		s.record(rec)
		return -1, FormatError(ErrnoName(err), err.Error())
	}
	rec.Granted = true
	s.record(rec)
	return fd, []byte(replyOK)
}

func (s *Service) record(r Record) {
	if s.Record != nil {
		s.Record(r)
	}
}
