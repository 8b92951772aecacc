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

// Answerer answers notified calls for one container and, in learning
// mode, maps each call to the first one seen of its kind, so a trace
// records each distinct use once.
type Answerer struct {
	policy  Policy
	decider *seccompgen.Decider
	first   map[seccompgen.Observed][6]uint64
}

// maxLearnKeys bounds the learning-mode memory of calls already seen; past
// it calls keep their own arguments (the log's own bounds then apply).
const maxLearnKeys = 1 << 16

// NewAnswerer checks p: enforcing modes need the profile.
func NewAnswerer(p Policy) (*Answerer, error) {
	a := &Answerer{policy: p, first: map[seccompgen.Observed][6]uint64{}}
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
// knows the number) made with args, and the arguments to record it with:
// args, or in learning mode those of the first call seen that a learned
// profile tells apart from it no more than LearnKey does (the same socket
// family, ioctl request, clone flags, open write flags ...), so that the
// log's aggregation counts it as a repeat of that one.
func (a *Answerer) Answer(name string, args [6]uint64) (Answer, [6]uint64) {
	if name == "" {
		// Newer than every table: ENOSYS lets libc fall back.
		return Answer{Errno: errnoENOSYS, Action: ActionDenied}, args
	}
	if a.policy.Mode == Learning {
		ans := Answer{Action: ActionAllowed}
		if _, never := seccompgen.NeverGranted(name, args); never && !slices.Contains(a.policy.Allow, name) {
			ans = Answer{Errno: errnoEPERM, Action: ActionDenied}
		}
		key := seccompgen.LearnKey(seccompgen.Observed{Name: name, Args: args})
		if first, ok := a.first[key]; ok {
			return ans, first
		}
		if len(a.first) < maxLearnKeys {
			a.first[key] = args
		}
		return ans, args
	}
	v := a.decider.Decide(name, args)
	switch v.Action {
	case specs.ActErrno:
		return Answer{Errno: v.Errno, Action: ActionDenied}, args
	case specs.ActLog, specs.ActAllow:
		// Routed only in audit mode: it runs, and is recorded.
		return Answer{Action: ActionAudited}, args
	}
	// Anything else is the kernel's to decide and never routed; fail closed.
	return Answer{Errno: errnoEPERM, Action: ActionDenied}, args
}

// Linux errno values the listener answers with.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)
