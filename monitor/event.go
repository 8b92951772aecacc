// Package monitor is plugbox's seccomp user-notification listener and the
// per-container process that hosts it. The system calls a plugin's profile
// routes to the listener are answered (EPERM in enforcing mode, "continue" in
// learning mode) and recorded in the violation log, one JSON line per call or
// per run of identical calls. What a plugin can make the monitor write is
// bounded (aggregation, a rate limit, a size cap), and nothing is dropped
// without a line, or a status entry, that says how much. The same process
// enforces the container's wall-clock limit and, for a foreground run, kills
// the plugin when the CLI dies. The listener never decides on the strength of
// memory it reads from the sandbox, so there is no time-of-check/time-of-use
// window to exploit.
package monitor

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// Event is one notified system call, or a run of identical ones (same pid,
// call, arguments and answer) when Count is above 1.
type Event struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Pid       uint32    `json:"pid"`
	Arch      string    `json:"arch"`
	Syscall   string    `json:"syscall"`
	Nr        int32     `json:"nr"`
	Args      []uint64  `json:"args"`
	// Action is "denied" (answered an errno), "allowed" (learning mode) or
	// "audited" (an audit action: the call ran); for a call the broker
	// decided, "granted" (the plugin got a descriptor) or "refused" (the
	// call got what the profile says).
	Action string `json:"action"`
	// Errno names the errno a denied call got, e.g. "EPERM".
	Errno string `json:"errno,omitempty"`
	// Decoded names the arguments that matter, e.g. {"family": "AF_INET",
	// "type": "SOCK_STREAM|SOCK_CLOEXEC"} (see DecodeArgs); Args keeps them raw.
	Decoded map[string]string `json:"decoded,omitempty"`
	// Count is how many calls the line stands for; 0 (omitted) means one.
	// A line with a count follows the line of the first such call and
	// covers the repeats from Time to Last.
	Count uint64     `json:"count,omitempty"`
	Last  *time.Time `json:"last,omitempty"`
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

// Calls is how many calls e stands for.
func (e Event) Calls() uint64 {
	if e.Count == 0 {
		return 1
	}
	return e.Count
}

// String renders an event as one human-readable line, with the arguments
// DecodeArgs names in place of their numbers.
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
			s += fmt.Sprintf(", as fd %d", b.FD)
		}
		if b.Reason != "" {
			s += ": " + b.Reason
		}
		return s + repeats(e)
	}
	s := fmt.Sprintf("%s %s pid %d %s %s %s",
		e.Time.Format(time.RFC3339Nano), e.Container, e.Pid, e.Arch, callText(e.Syscall, e.Arch, e.Args), e.Action)
	if e.Errno != "" {
		s += " " + e.Errno
	}
	return s + repeats(e)
}

// repeats renders the run of identical calls a line stands for, or "".
func repeats(e Event) string {
	if e.Count <= 1 {
		return ""
	}
	s := " ×" + strconv.FormatUint(e.Count, 10)
	if e.Last != nil {
		s += " until " + e.Last.Format(time.RFC3339Nano)
	}
	return s
}

func arg(args []uint64, i int) uint64 {
	if i < len(args) {
		return args[i]
	}
	return 0
}

// Kinds of Notice.
const (
	// NoticeDropped: Count calls were answered but not logged one by one
	// (the rate limit or the size cap); Calls says which.
	NoticeDropped = "dropped"
	// NoticeLost: Count calls could not be written at all (a write failed,
	// e.g. a full disk); only this line and the status record them.
	NoticeLost = "lost"
	// NoticeMonitorDied: the monitor process ended before the plugin; the
	// kernel fails every later notified call with ENOSYS, unlogged.
	NoticeMonitorDied = "monitor-died"
)

// Notice is a line about the log itself rather than about one call.
type Notice struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Kind      string    `json:"notice"`
	// Action is the answer the calls got ("denied", "allowed"), for the
	// notices that count calls.
	Action string `json:"action,omitempty"`
	// Count is how many calls the notice accounts for.
	Count uint64 `json:"count,omitempty"`
	// Calls counts them by system call name.
	Calls   map[string]uint64 `json:"calls,omitempty"`
	Message string            `json:"message"`
}

// String renders a notice as one human-readable line.
func (n Notice) String() string {
	s := fmt.Sprintf("%s %s notice %s: %s", n.Time.Format(time.RFC3339Nano), n.Container, n.Kind, n.Message)
	if len(n.Calls) > 0 {
		s += " (" + formatCalls(n.Calls) + ")"
	}
	return s
}

// formatCalls lists per-call counts, largest first.
func formatCalls(calls map[string]uint64) string {
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if calls[names[i]] != calls[names[j]] {
			return calls[names[i]] > calls[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + " " + strconv.FormatUint(calls[name], 10)
	}
	return strings.Join(parts, ", ")
}

// Record is one decoded line of the log: exactly one of Event and Notice
// is set.
type Record struct {
	Event  *Event
	Notice *Notice
}

// String renders the record as one human-readable line.
func (r Record) String() string {
	if r.Notice != nil {
		return r.Notice.String()
	}
	return r.Event.String()
}
