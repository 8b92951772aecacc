package seccompgen

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BrokerCalls names the system calls a profile sends to plugbox's broker:
// the opens when the plugin has open rules, connect when it has connect
// rules. The broker decides on their arguments itself, so the filter
// routes them whatever the arguments are.
func BrokerCalls(open, connect bool) []string {
	var names []string
	if open {
		names = append(names, "open", "openat", "openat2")
	}
	if connect {
		names = append(names, "connect")
	}
	return names
}

// WithBroker returns a copy of s in which every call in names goes to the
// seccomp listener (SCMP_ACT_NOTIFY, any arguments): the names leave every
// other rule, so the broker sees each such call, and answers what it does
// not grant as s would (it runs s's compiled program on the call). Names
// the profile's architecture lacks (open on aarch64) are skipped.
func WithBroker(s *specs.LinuxSeccomp, names []string) (*specs.LinuxSeccomp, error) {
	if s == nil || len(names) == 0 {
		return s, nil
	}
	arch, err := archForScmp(s)
	if err != nil {
		return nil, err
	}
	var routed []string
	for _, n := range names {
		if !KnownSyscall(n) {
			return nil, fmt.Errorf("broker: %q cannot be sent to the broker", n)
		}
		if arch.exists(n) {
			routed = append(routed, n)
		}
	}
	out := cloneProfile(s)
	kept := out.Syscalls[:0]
	for _, e := range out.Syscalls {
		e.Names = slices.DeleteFunc(e.Names, func(n string) bool { return slices.Contains(routed, n) })
		if len(e.Names) > 0 {
			kept = append(kept, e)
		}
	}
	out.Syscalls = append(kept, specs.LinuxSyscall{Names: routed, Action: specs.ActNotify})
	return out, nil
}

// ExplainBroker is Explain (monitorMode as there) for a profile whose calls in names go to the
// broker (WithBroker): for one of them it says so, and what the profile
// answers when the broker grants nothing.
func ExplainBroker(s *specs.LinuxSeccomp, name, monitorMode string, names []string) (string, error) {
	text, err := Explain(s, name, monitorMode)
	if err != nil || !slices.Contains(names, name) {
		return text, err
	}
	head, rest, ok := strings.Cut(text, ": ")
	if !ok {
		return text, nil
	}
	return fmt.Sprintf("%s: goes to plugbox's broker (SCMP_ACT_NOTIFY, any arguments): a path or destination a broker rule grants gets a descriptor the broker opened or connected on the host; anything else gets what the profile answers: %s", head, rest), nil
}
