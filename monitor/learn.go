package monitor

import "github.com/plugbox/plugbox/seccompgen"

// LearnedCalls turns a learning-mode log into the distinct calls it
// records, in first-seen order, for seccompgen.Learn.
func LearnedCalls(events []Event) []seccompgen.Observed {
	seen := map[seccompgen.Observed]bool{}
	var out []seccompgen.Observed
	for _, e := range events {
		o := seccompgen.Observed{Name: e.Syscall}
		copy(o.Args[:], e.Args)
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}
