package monitor

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/seccompgen"
)

// Actions an Event records.
const (
	// ActionDenied: the call failed with Event.Errno.
	ActionDenied = "denied"
	// ActionAllowed: learning mode let the call run.
	ActionAllowed = "allowed"
	// ActionAudited: the profile's action is audit; the call ran.
	ActionAudited = "audited"
)

// Policy is how the listener answers: the mode, and what it needs to
// answer in that mode.
type Policy struct {
	Mode Mode `json:"mode"`
	// Profile is the profile the filter was routed from (seccompgen.Route):
	// in Violations and Audit mode each notified call gets what it decides.
	Profile *specs.LinuxSeccomp `json:"profile,omitempty"`
	// Allow names the calls seccompgen.NeverGranted lists that learning
	// mode lets run anyway (plugbox trace --allow-denied); the others are
	// failed with EPERM, as no learned profile will allow them.
	Allow []string `json:"allow,omitempty"`
}

// Answerer answers notified calls for one container, and in learning mode
// says which of them are worth a record (the first of each distinct use).
type Answerer struct {
	policy  Policy
	decider *seccompgen.Decider
	seen    map[seccompgen.Observed]bool
}

// maxLearnKeys bounds the learning-mode memory of calls already recorded;
// past it every call is recorded (the log's own bounds then apply).
const maxLearnKeys = 1 << 16

// NewAnswerer checks p: enforcing modes need the profile.
func NewAnswerer(p Policy) (*Answerer, error) {
	a := &Answerer{policy: p, seen: map[seccompgen.Observed]bool{}}
	switch p.Mode {
	case Learning:
	case Violations, Audit:
		d, err := seccompgen.NewDecider(p.Profile)
		if err != nil {
			return nil, fmt.Errorf("monitor policy (%s): %w", p.Mode, err)
		}
		a.decider = d
	default:
		return nil, fmt.Errorf("monitor policy: unknown mode %q", p.Mode)
	}
	return a, nil
}

// Answer is how the listener answers one call.
type Answer struct {
	// Errno fails the call with this errno; 0 lets it run
	// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
	Errno uint
	// Action is ActionDenied, ActionAllowed or ActionAudited.
	Action string
}

// Answer says how to answer call name (its native name, "" when no table
// knows the number) with arguments args, and whether the call is worth a
// record: always when enforcing; in learning mode, only the first time
// each distinct use (seccompgen.LearnKey) is seen.
func (a *Answerer) Answer(name string, args [6]uint64) (Answer, bool) {
	if name == "" {
		// Newer than every table: ENOSYS lets libc fall back.
		return Answer{Errno: errnoENOSYS, Action: ActionDenied}, true
	}
	if a.policy.Mode == Learning {
		ans := Answer{Action: ActionAllowed}
		if _, never := seccompgen.NeverGranted(name, args); never && !slices.Contains(a.policy.Allow, name) {
			ans = Answer{Errno: errnoEPERM, Action: ActionDenied}
		}
		key := seccompgen.LearnKey(seccompgen.Observed{Name: name, Args: args})
		if a.seen[key] {
			return ans, false
		}
		if len(a.seen) < maxLearnKeys {
			a.seen[key] = true
		}
		return ans, true
	}
	v := a.decider.Decide(name, args)
	switch v.Action {
	case specs.ActErrno:
		return Answer{Errno: v.Errno, Action: ActionDenied}, true
	case specs.ActLog, specs.ActAllow:
		// Routed only in audit mode: it runs, and is recorded.
		return Answer{Action: ActionAudited}, true
	}
	// Anything else is the kernel's to decide and never routed; fail closed.
	return Answer{Errno: errnoEPERM, Action: ActionDenied}, true
}

// Linux errno values the listener answers with.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)
