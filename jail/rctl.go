package jail

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RctlRule is one rctl(8) resource limit on a jail, without its subject:
// RESOURCE:ACTION=AMOUNT. The backend adds each with rctl_add_rule(2) as
// "jail:NAME:RESOURCE:ACTION=AMOUNT" right after jail_set, before any
// process joins the jail, and removes it at delete.
type RctlRule struct {
	Resource string
	Action   string
	Amount   int64
}

// String renders r without its subject, as the annotation holds it.
func (r RctlRule) String() string {
	return r.Resource + ":" + r.Action + "=" + strconv.FormatInt(r.Amount, 10)
}

// For returns the rule on jail name, as rctl_add_rule(2) takes it.
func (r RctlRule) For(name string) string {
	return "jail:" + name + ":" + r.String()
}

// Filter returns the rctl_remove_rule(2) filter that removes r, and only
// r, from jail name: the kernel keeps one deny rule per subject, resource
// and action (rctl_rule_add removes those differing only in amount).
func (r RctlRule) Filter(name string) string {
	return "jail:" + name + ":" + r.Resource + ":" + r.Action
}

// rctlResources are the resources rctl(8) knows (kern_rctl.c
// resourcenames), with whether racct can deny them (racct_types
// RACCT_DENIABLE, plus memoryuse and pcpu, which rctl_rule_add accepts
// with deny because they are enforced another way) and whether they decay
// (the only ones that may be throttled).
var rctlResources = map[string]struct{ deniable, decaying bool }{
	"cputime": {false, false}, "datasize": {true, false}, "stacksize": {true, false},
	"coredumpsize": {true, false}, "memoryuse": {true, false}, "memorylocked": {true, false},
	"maxproc": {true, false}, "openfiles": {true, false}, "vmemoryuse": {true, false},
	"pseudoterminals": {true, false}, "swapuse": {true, false}, "nthr": {true, false},
	"msgqqueued": {true, false}, "msgqsize": {true, false}, "nmsgq": {true, false},
	"nsem": {true, false}, "nsemop": {true, false}, "nshm": {true, false}, "shmsize": {true, false},
	"wallclock": {false, false}, "pcpu": {true, true},
	"readbps": {false, true}, "writebps": {false, true}, "readiops": {false, true}, "writeiops": {false, true},
}

// rctlSignals are the signal actions rctl(8) accepts (sig + signal name).
var rctlSignals = map[string]bool{
	"sighup": true, "sigint": true, "sigquit": true, "sigill": true, "sigtrap": true, "sigabrt": true,
	"sigemt": true, "sigfpe": true, "sigkill": true, "sigbus": true, "sigsegv": true, "sigsys": true,
	"sigpipe": true, "sigalrm": true, "sigterm": true, "sigurg": true, "sigstop": true, "sigtstp": true,
	"sigcont": true, "sigchld": true, "sigttin": true, "sigttou": true, "sigio": true, "sigxcpu": true,
	"sigxfsz": true, "sigvtalrm": true, "sigprof": true, "sigwinch": true, "siginfo": true,
	"sigusr1": true, "sigusr2": true, "sigthr": true,
}

// ParseRctlRules parses a comma-separated list of RESOURCE:ACTION=AMOUNT
// rules (an AMOUNT may end in k, m, g or t, powers of 1024, which are
// expanded here because the kernel takes plain numbers). field names the
// source in messages. Rules the kernel would refuse with a bare EINVAL or
// EOPNOTSUPP are refused here with the reason.
func ParseRctlRules(field, list string) ([]RctlRule, error) {
	var out []RctlRule
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		r, err := parseRctlRule(s)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %d %q: %w", field, i+1, s, err)
		}
		out = append(out, r)
	}
	if _, err := MergeRctl(out); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return out, nil
}

func parseRctlRule(s string) (RctlRule, error) {
	res, rest, ok := strings.Cut(s, ":")
	if !ok {
		return RctlRule{}, errors.New("write RESOURCE:ACTION=AMOUNT, e.g. memoryuse:deny=256m (the jail subject is added by plugbox)")
	}
	action, amount, ok := strings.Cut(rest, "=")
	if !ok {
		return RctlRule{}, errors.New("missing =AMOUNT")
	}
	if strings.Contains(amount, "/") {
		return RctlRule{}, errors.New("a /per suffix is not supported: the rule applies to the whole jail")
	}
	kind, known := rctlResources[res]
	if !known {
		return RctlRule{}, fmt.Errorf("unknown resource %q (see rctl(8): memoryuse, maxproc, openfiles, pcpu, ...)", res)
	}
	switch {
	case action == "deny":
		if !kind.deniable {
			return RctlRule{}, fmt.Errorf("%s cannot be denied (the kernel answers EOPNOTSUPP); use log, devctl or a signal action", res)
		}
	case action == "throttle":
		if !kind.decaying || res == "pcpu" {
			return RctlRule{}, fmt.Errorf("%s cannot be throttled; use deny", res)
		}
	case action == "log" || action == "devctl" || rctlSignals[action]:
	default:
		return RctlRule{}, fmt.Errorf("unknown action %q (deny, log, devctl, throttle or a signal such as sigterm)", action)
	}
	n, err := parseAmount(amount)
	if err != nil {
		return RctlRule{}, err
	}
	return RctlRule{Resource: res, Action: action, Amount: n}, nil
}

// parseAmount parses a non-negative integer with an optional k/m/g/t
// suffix (powers of 1024, as expand_number(3) reads rctl(8) amounts).
func parseAmount(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("amount %q is not a non-negative number (with an optional k, m, g or t)", s)
	}
	return v * mult, nil
}

// MergeRctl checks that no two rules have the same resource and action
// (the kernel would keep only the last) and returns them sorted.
func MergeRctl(rules []RctlRule) ([]RctlRule, error) {
	seen := map[string]bool{}
	out := append([]RctlRule(nil), rules...)
	for _, r := range out {
		k := r.Resource + ":" + r.Action
		if seen[k] {
			return nil, fmt.Errorf("two rules for %s; keep one", k)
		}
		seen[k] = true
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out, nil
}

// ResourceRules maps the linux.resources limits that have an rctl
// equivalent to rules: memory.limit to memoryuse, memory.swap (memory plus
// swap on Linux) to swapuse, pids.limit to maxproc and the CPU quota and
// period to pcpu (percent of one CPU, rounded up). Every other field that
// sets a limit is refused with the field named: a limit asked for is never
// silently dropped. Device cgroup rules that deny are accepted, since the
// devfs ruleset already hides every device a jail is not given; rules that
// allow a device are refused.
func ResourceRules(r *specs.LinuxResources) ([]RctlRule, error) {
	if r == nil {
		return nil, nil
	}
	var out []RctlRule
	refuse := func(field string) error {
		return fmt.Errorf("linux.resources.%s: %w: FreeBSD's rctl has no equivalent; remove it (memory.limit, memory.swap, pids.limit and cpu.quota/period are mapped)", field, ErrUnsupported)
	}
	for i, d := range r.Devices {
		if d.Allow {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w: allowing a device is done with a devfs ruleset on FreeBSD; define one that unhides it and set ruleset=N on the devfs mount", i, ErrUnsupported)
		}
	}
	if m := r.Memory; m != nil {
		var limit int64
		if m.Limit != nil && *m.Limit > 0 {
			limit = *m.Limit
			out = append(out, RctlRule{"memoryuse", "deny", limit})
		}
		if m.Swap != nil && *m.Swap > 0 {
			if limit == 0 || *m.Swap < limit {
				return nil, errors.New("linux.resources.memory.swap: it is memory plus swap and must be at least memory.limit, which must be set; fix the values or remove swap")
			}
			out = append(out, RctlRule{"swapuse", "deny", *m.Swap - limit})
		}
		switch {
		case m.Reservation != nil && *m.Reservation > 0:
			return nil, refuse("memory.reservation")
		case m.Kernel != nil && *m.Kernel > 0:
			return nil, refuse("memory.kernel")
		case m.KernelTCP != nil && *m.KernelTCP > 0:
			return nil, refuse("memory.kernelTCP")
		case m.DisableOOMKiller != nil && *m.DisableOOMKiller:
			return nil, refuse("memory.disableOOMKiller")
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		out = append(out, RctlRule{"maxproc", "deny", *p.Limit})
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil && *c.Quota > 0 {
			if c.Period == nil || *c.Period == 0 {
				return nil, errors.New("linux.resources.cpu.quota: set cpu.period too (the quota is microseconds per period)")
			}
			pct := (uint64(*c.Quota)*100 + *c.Period - 1) / *c.Period
			out = append(out, RctlRule{"pcpu", "deny", int64(pct)})
		}
		switch {
		case c.Shares != nil && *c.Shares > 0:
			return nil, refuse("cpu.shares")
		case c.Cpus != "":
			return nil, refuse("cpu.cpus")
		case c.Mems != "":
			return nil, refuse("cpu.mems")
		case c.RealtimeRuntime != nil && *c.RealtimeRuntime > 0, c.RealtimePeriod != nil && *c.RealtimePeriod > 0:
			return nil, refuse("cpu.realtimeRuntime/realtimePeriod")
		case c.Burst != nil && *c.Burst > 0:
			return nil, refuse("cpu.burst")
		case c.Idle != nil && *c.Idle != 0:
			return nil, refuse("cpu.idle")
		}
	}
	switch {
	case r.BlockIO != nil:
		return nil, refuse("blockIO")
	case len(r.HugepageLimits) > 0:
		return nil, refuse("hugepageLimits")
	case r.Network != nil:
		return nil, refuse("network")
	case len(r.Rdma) > 0:
		return nil, refuse("rdma")
	case len(r.Unified) > 0:
		return nil, refuse("unified")
	}
	return out, nil
}
