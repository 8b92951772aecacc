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
)

// Mode says how the listener answers.
type Mode string

const (
	// Violations answers every notified call with EPERM and logs it.
	Violations Mode = "violations"
	// Learning lets every notified call continue and logs it.
	Learning Mode = "learning"
	// Audit is Violations for a profile with audit actions: the
	// SCMP_ACT_LOG calls are routed too, and continue, logged.
	Audit Mode = "audit"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Violations, Learning, Audit:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown monitor mode %q: use %q, %q or %q", s, Violations, Audit, Learning)
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
	// Action is "denied" (answered Errno), "allowed" (learning mode) or
	// "audited" (an audit action: the call ran).
	Action string `json:"action"`
	// Errno names the errno a denied call got, e.g. "EPERM".
	Errno string `json:"errno,omitempty"`
	// Decoded names the arguments that matter, e.g. {"family": "AF_INET",
	// "type": "SOCK_STREAM|SOCK_CLOEXEC"} (see DecodeArgs); Args keeps them raw.
	Decoded map[string]string `json:"decoded,omitempty"`
}

// String renders an event as one human-readable line, with the arguments
// DecodeArgs names in place of their numbers.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s pid %d %s %s %s",
		e.Time.Format(time.RFC3339Nano), e.Container, e.Pid, e.Arch, callText(e.Syscall, e.Arch, e.Args), e.Action)
	if e.Errno != "" {
		s += " " + e.Errno
	}
	return s
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
