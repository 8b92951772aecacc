package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"golang.org/x/net/websocket"
)

// The Kubernetes remote-command protocol over WebSocket, version 4, as the
// kubelet's streaming server (and containerd's copy of it) speaks it: every
// message starts with a channel byte; the server sends the command's output
// on stdout and stderr, then one JSON status on the error channel, then
// closes the connection.
const (
	streamProtocol = "v4.channel.k8s.io"
	channelStdout  = 1
	channelStderr  = 2
	channelError   = 3
)

// streamStatus is the part of a Kubernetes metav1.Status the server sends
// on the error channel.
type streamStatus struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Details struct {
		Causes []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"causes"`
	} `json:"details"`
}

// exitCode reads the command's exit code from the status: 0 on success,
// the ExitCode cause of a NonZeroExitCode failure, an error otherwise.
func (s *streamStatus) exitCode() (int, error) {
	switch {
	case s.Status == "Success":
		return 0, nil
	case s.Reason == "NonZeroExitCode":
		for _, c := range s.Details.Causes {
			if c.Reason == "ExitCode" {
				code, err := strconv.Atoi(c.Message)
				if err != nil {
					return 0, fmt.Errorf("exit code %q in the status is not a number", c.Message)
				}
				return code, nil
			}
		}
		return 0, fmt.Errorf("status %q names no exit code", s.Message)
	default:
		return 0, fmt.Errorf("the exec failed: %s (%s)", s.Message, s.Reason)
	}
}

// streamExec connects to an exec URL returned by the runtime's Exec call,
// copies the command's stdout and stderr to the writers until the server
// closes the stream, and returns the command's exit code.
func streamExec(rawURL string, stdout, stderr io.Writer) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return 0, fmt.Errorf("unexpected scheme %q in the exec URL", u.Scheme)
	}
	cfg, err := websocket.NewConfig(u.String(), "http://localhost/")
	if err != nil {
		return 0, err
	}
	cfg.Protocol = []string{streamProtocol}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	var status []byte
	for {
		var msg []byte
		if err := websocket.Message.Receive(ws, &msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, err
		}
		if len(msg) == 0 {
			continue
		}
		data := msg[1:]
		switch msg[0] {
		case channelStdout:
			_, err = stdout.Write(data)
		case channelStderr:
			_, err = stderr.Write(data)
		case channelError:
			status = append(status, data...)
		}
		if err != nil {
			return 0, err
		}
	}
	if len(status) == 0 {
		return 0, errors.New("the stream ended without the command's status")
	}
	var s streamStatus
	if err := json.Unmarshal(status, &s); err != nil {
		return 0, fmt.Errorf("status %q: %w", status, err)
	}
	return s.exitCode()
}
