package seccompgen

import (
	"fmt"
	"slices"
	"sort"
)

// Observed is one distinct call the notification listener saw in learning
// mode: the native syscall name and its six raw arguments.
type Observed struct {
	Name string
	Args [6]uint64
}

// minShare is the part of a group's new syscalls that must have been
// observed before Minimize grants the whole group rather than single calls.
const minShare = 0.5

// supersets maps a group to a group it contains; when both are chosen the
// smaller one is dropped.
var supersets = map[string]string{"fs-read": "fs-write", "net-client": "net-server"}

// Minimize turns the calls seen in learning mode into the smallest Options
// that allow them.
//
// Argument-checked calls decide groups and Network directly: socket's family
// sets Network (AF_UNIX: none, AF_INET/AF_INET6: loopback, AF_NETLINK:
// host) and needs net-client; an open/openat with a write flag needs
// fs-write, a read-only one fs-read (openat2, whose flags seccomp cannot
// read, counts as fs-read: fs-read answers it ENOSYS and libc retries with
// openat); a clone without CLONE_THREAD needs process; terminal-changing
// ioctls need tty.
//
// For the other calls, a group is granted when at least half of the
// syscalls it would add (beyond base and the groups already chosen) were
// observed, best share first; then every observed call still not allowed
// goes to Extra. So one observed call never pulls in a large group, and a
// group mostly used is granted whole (the calls a plugin makes vary with
// input; a group covers the neighbours of what was seen).
//
// A call no group may grant is an error naming it: a DeniedAlways syscall,
// clone with a namespace flag, an unlisted ioctl request, an unusual
// personality or socket family, or an unknown name.
func Minimize(observed []Observed) (Options, error) {
	arch, err := archFor("")
	if err != nil {
		arch = archs[0]
	}
	chosen := map[string]bool{}
	network := NetworkNone
	raise := func(n string) {
		rank := map[string]int{NetworkNone: 0, NetworkLoopback: 1, NetworkHost: 2}
		if rank[n] > rank[network] {
			network = n
		}
	}
	base := groupIndex()["base"]
	wanted := map[string]bool{}
	for i, o := range observed {
		if !KnownSyscall(o.Name) {
			return Options{}, fmt.Errorf("observed[%d]: %q is not a syscall plugbox knows", i, o.Name)
		}
		if slices.Contains(deniedAlways, o.Name) {
			return Options{}, fmt.Errorf("observed[%d]: the plugin called %s, which plugbox never grants (DeniedAlways)", i, o.Name)
		}
		switch o.Name {
		case "socket":
			switch o.Args[0] {
			case afUnix:
			case afInet, afInet6:
				raise(NetworkLoopback)
			case afNetlink:
				raise(NetworkHost)
			default:
				return Options{}, fmt.Errorf("observed[%d]: socket family %d is never granted (only AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)", i, o.Args[0])
			}
			chosen["net-client"] = true
		case "clone":
			switch flags := o.Args[0]; {
			case flags&cloneNSMask != 0:
				return Options{}, fmt.Errorf("observed[%d]: clone with namespace flags %#x is never granted", i, flags&cloneNSMask)
			case flags&cloneThread == 0:
				chosen["process"] = true
			}
		case "clone3":
		case "ioctl":
			req := o.Args[1]
			switch {
			case slices.ContainsFunc(base.conds, func(c condRule) bool { return c.name == "ioctl" && c.args[0].Value == req }):
			case slices.ContainsFunc(groupIndex()["tty"].conds, func(c condRule) bool { return c.args[0].Value == req }):
				chosen["tty"] = true
			default:
				return Options{}, fmt.Errorf("observed[%d]: ioctl request %#x%s is never granted", i, req, nameSuffix(ioctlNames[req]))
			}
		case "open", "openat":
			flags := o.Args[1]
			if o.Name == "openat" {
				flags = o.Args[2]
			}
			if flags&openWriteMask != 0 {
				chosen["fs-write"] = true
			} else {
				chosen["fs-read"] = true
			}
		case "openat2":
			chosen["fs-read"] = true
		case "personality":
			if o.Args[0] != personaLinux && o.Args[0] != personaQuery {
				return Options{}, fmt.Errorf("observed[%d]: personality(%#x) is never granted (only 0 and the 0xffffffff query)", i, o.Args[0])
			}
		default:
			if !slices.Contains(base.allow, o.Name) {
				wanted[o.Name] = true
			}
		}
	}

	granted := map[string]bool{}
	grant := func(g string) {
		chosen[g] = true
		for _, n := range groupIndex()[g].allow {
			granted[n] = true
		}
	}
	grant("base")
	for g := range chosen {
		grant(g)
	}
	for {
		best, bestShare, bestHits := "", 0.0, 0
		for _, g := range groupDefs {
			if chosen[g.name] {
				continue
			}
			adds, hits := 0, 0
			for _, n := range g.allow {
				if granted[n] || !arch.exists(n) {
					continue
				}
				adds++
				if wanted[n] {
					hits++
				}
			}
			if hits == 0 {
				continue
			}
			share := float64(hits) / float64(adds)
			if share >= minShare && (share > bestShare || share == bestShare && hits > bestHits) {
				best, bestShare, bestHits = g.name, share, hits
			}
		}
		if best == "" {
			break
		}
		grant(best)
	}

	var opts Options
	for g := range chosen {
		if big, ok := supersets[g]; ok && chosen[big] {
			continue
		}
		opts.Groups = append(opts.Groups, g)
	}
	sort.Strings(opts.Groups)
	for n := range wanted {
		if !granted[n] {
			opts.Extra = append(opts.Extra, n)
		}
	}
	sort.Strings(opts.Extra)
	opts.Network = network
	if _, err := Generate(opts); err != nil {
		return Options{}, fmt.Errorf("minimize: the learned options do not generate: %w", err)
	}
	return opts, nil
}

func nameSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}
