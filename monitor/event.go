// Package monitor is plugbox's seccomp user-notification listener. The
// system calls a plugin's profile routes to it are recorded, one JSON line
// each, and answered: EPERM in enforcing mode (the violation log), "continue"
// in learning mode (where the filter already allows every call). The
// listener never decides on the strength of memory it reads from the
// sandbox, so there is no time-of-check/time-of-use window to exploit.
package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/plugbox/plugbox/broker"
)

// Mode says how the listener answers.
type Mode string

const (
	// Violations answers every notified call with EPERM and logs it.
	Violations Mode = "violations"
	// Learning lets every notified call continue and logs it.
	Learning Mode = "learning"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Violations, Learning:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown monitor mode %q: use %q or %q", s, Violations, Learning)
}

// Event is one notified system call.
type Event struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Pid       uint32    `json:"pid"`
	Arch      string    `json:"arch"`
	Syscall   string    `json:"syscall"`
	Nr        int32     `json:"nr"`
	Args      []uint64  `json:"args"`
	// Action is "denied" (answered EPERM) or "allowed" (learning mode);
	// for a call the broker decided, "granted" (the plugin got a
	// descriptor) or "refused" (the call got what the profile says).
	Action string `json:"action"`
	// Broker is the broker's decision on a brokered call or request.
	Broker *broker.Record `json:"broker,omitempty"`
}

// Actions of broker records.
const (
	ActionGranted = "granted"
	ActionRefused = "refused"
)

// BrokerEvent is the log record of a broker request made over the explicit
// protocol (no system call of the plugin's stands behind it).
func BrokerEvent(container string, r broker.Record) Event {
	e := Event{Time: time.Now().UTC(), Container: container, Syscall: r.Op, Nr: -1, Action: ActionRefused, Broker: &r}
	if r.Granted {
		e.Action = ActionGranted
	}
	return e
}

// String renders an event as one human-readable line.
func (e Event) String() string {
	if b := e.Broker; b != nil && (e.Action == ActionGranted || e.Action == ActionRefused) {
		s := fmt.Sprintf("%s %s pid %d broker %s %s", e.Time.Format(time.RFC3339Nano), e.Container, e.Pid, b.Op, b.Target)
		if b.Access != "" {
			s += " (" + b.Access + ")"
		}
		s += " " + e.Action
		if b.Rule != "" {
			s += " by " + b.Rule
		}
		s += " via " + b.Via
		if b.Granted && b.FD > 0 {
			s += fmt.Sprintf(", fd %d", b.FD)
		}
		if b.Reason != "" {
			s += ": " + b.Reason
		}
		return s
	}
	return fmt.Sprintf("%s %s pid %d %s %s(%#x, %#x, %#x, %#x, %#x, %#x) %s",
		e.Time.Format(time.RFC3339Nano), e.Container, e.Pid, e.Arch, e.Syscall,
		arg(e.Args, 0), arg(e.Args, 1), arg(e.Args, 2), arg(e.Args, 3), arg(e.Args, 4), arg(e.Args, 5), e.Action)
}

func arg(args []uint64, i int) uint64 {
	if i < len(args) {
		return args[i]
	}
	return 0
}

// ReadLog decodes a log of JSON lines; a torn last line (a writer still
// busy) is ignored.
func ReadLog(r io.Reader) ([]Event, error) {
	var events []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		events = append(events, e)
	}
	return events, sc.Err()
}

// Summary names the distinct denied calls in events, in first-seen order,
// with how many events there were in all.
func Summary(events []Event) (names []string, total int) {
	seen := map[string]bool{}
	for _, e := range events {
		if e.Action != "denied" {
			continue
		}
		total++
		if !seen[e.Syscall] {
			seen[e.Syscall] = true
			names = append(names, e.Syscall)
		}
	}
	return names, total
}
