package broker

import (
	"net/netip"
	"path"
	"strings"
)

// OpenRequest is what a plugin asks to open, in words rather than one
// operating system's O_* values.
type OpenRequest struct {
	// Path is the host path as the plugin gave it.
	Path string
	// Read and Write are the access mode (O_RDONLY: Read; O_WRONLY:
	// Write; O_RDWR: both).
	Read, Write bool
	// Create (O_CREAT) makes the file if it is missing; with Exclusive
	// (O_EXCL) only a new file will do.
	Create, Exclusive bool
	// Truncate (O_TRUNC) and Append (O_APPEND) change existing contents.
	Truncate, Append bool
	// Nonblock (O_NONBLOCK), CloseOnExec (O_CLOEXEC) and Sync (O_SYNC or
	// O_DSYNC) are kept on the descriptor the plugin gets.
	Nonblock, CloseOnExec, Sync bool
}

// Access names what the request needs in a record: "read", "write",
// "read-write", with ",create", ",trunc", ",append" as asked.
func (r OpenRequest) Access() string {
	var s string
	switch {
	case r.Read && r.Write:
		s = "read-write"
	case r.Write:
		s = "write"
	default:
		s = "read"
	}
	if r.Create {
		s += ",create"
		if r.Exclusive {
			s += ",excl"
		}
	}
	if r.Truncate {
		s += ",trunc"
	}
	if r.Append {
		s += ",append"
	}
	return s
}

// OpenDecision is the broker's answer to an OpenRequest, decided on
// plugbox's own copy of the path.
type OpenDecision struct {
	// Concerns says the path lies in a rule's directory: a refusal is
	// recorded. Other paths are none of the broker's business.
	Concerns bool
	// Existing is the rule under which an existing file is opened, nil
	// when none grants it; ExistingRel is the path beneath its Dir.
	Existing    *FileRule
	ExistingRel string
	// New is the rule under which a missing file is created (with O_EXCL),
	// nil when none grants it; NewRel is the path beneath its Dir. With
	// both, the existing file is tried first.
	New    *FileRule
	NewRel string
	// Reason says, for a refusal, why no rule grants the request.
	Reason string
}

// Granted reports whether some rule grants the request.
func (d OpenDecision) Granted() bool { return d.Existing != nil || d.New != nil }

// DecideOpen decides an open request. It looks only at the path and the
// flags; the caller opens beneath the rule's directory without following
// any symbolic link, so what it opens is what the rule names.
func (p *Policy) DecideOpen(req OpenRequest) OpenDecision {
	var d OpenDecision
	if p == nil || !strings.HasPrefix(req.Path, "/") || len(req.Path) > maxPath {
		return d
	}
	clean := path.Clean(req.Path)
	for i := range p.Open {
		r := &p.Open[i]
		if within(req.Path, r.Dir) || within(clean, r.Dir) {
			d.Concerns = true
			break
		}
	}
	if !d.Concerns {
		return d
	}
	for _, elem := range strings.Split(req.Path, "/") {
		if elem == ".." {
			d.Reason = `the path has a ".." component`
			return d
		}
	}
	if req.Truncate && !req.Write {
		// Linux truncates even a read-only open.
		req.Write = true
	}
	d.Reason = "no rule names this file"
	for i := range p.Open {
		r := &p.Open[i]
		rel, ok := r.match(clean)
		if !ok {
			continue
		}
		switch r.Access {
		case Read:
			if req.Write || req.Append || req.Create && req.Exclusive {
				d.Reason = "a read rule (" + r.Field + ") names it, and the plugin asked for " + req.Access()
				continue
			}
			if d.Existing == nil {
				d.Existing, d.ExistingRel = r, rel
			}
		case Write:
			if req.Create && req.Exclusive {
				d.Reason = "a write rule (" + r.Field + ") opens existing files only, and the plugin asked for a new one"
				continue
			}
			if d.Existing == nil {
				d.Existing, d.ExistingRel = r, rel
			}
		case Create:
			if !req.Create {
				d.Reason = "a create rule (" + r.Field + ") makes new files only, and the plugin did not ask to create one (O_CREAT)"
				continue
			}
			if d.New == nil {
				d.New, d.NewRel = r, rel
			}
		}
	}
	if d.Granted() {
		d.Reason = ""
	}
	return d
}

// match reports whether clean (a cleaned absolute path) is a file the
// rule names, and returns its path beneath r.Dir.
func (r *FileRule) match(clean string) (string, bool) {
	if r.Name == "" {
		if !within(clean, r.Dir) || clean == r.Dir {
			return "", false
		}
		return strings.TrimPrefix(clean[len(r.Dir):], "/"), true
	}
	dir, base := path.Split(clean)
	if path.Clean(dir) != r.Dir {
		return "", false
	}
	if r.Glob {
		if ok, _ := path.Match(r.Name, base); !ok {
			return "", false
		}
	} else if base != r.Name {
		return "", false
	}
	return base, true
}

// within reports whether p is dir or lies beneath it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// Address is where a plugin asks to be connected.
type Address struct {
	// Network is "tcp" or "unix".
	Network string
	// IP and Port are a tcp destination (IP unmapped from ::ffff:0:0/96).
	IP   netip.Addr
	Port uint16
	// Path is a unix socket path.
	Path string
}

// String renders the address in the rules' syntax.
func (a Address) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Path
	}
	return "tcp:" + netip.AddrPortFrom(a.IP, a.Port).String()
}

// Resolver returns the addresses a DNS name has now, on the host.
type Resolver func(host string) []netip.Addr

// MatchConnect returns the rule that allows connecting to a, or nil.
// Rules naming a host are matched against what resolve returns for it.
func (p *Policy) MatchConnect(a Address, resolve Resolver) *Destination {
	if p == nil {
		return nil
	}
	for i := range p.Connect {
		d := &p.Connect[i]
		if d.Network != a.Network {
			continue
		}
		if d.Network == "unix" {
			if d.Path == a.Path {
				return d
			}
			continue
		}
		if d.Port != a.Port {
			continue
		}
		if d.IP.IsValid() {
			if d.IP == a.IP.Unmap() {
				return d
			}
			continue
		}
		if resolve == nil {
			continue
		}
		for _, ip := range resolve(d.Host) {
			if ip.Unmap() == a.IP.Unmap() {
				return d
			}
		}
	}
	return nil
}

// ConcernsConnect says whether a refused connect to a is recorded: every
// tcp destination is, and unix sockets in a rule's directory.
func (p *Policy) ConcernsConnect(a Address) bool {
	if p == nil || len(p.Connect) == 0 {
		return false
	}
	if a.Network == "tcp" {
		return true
	}
	for _, d := range p.Connect {
		if d.Network == "unix" && within(a.Path, path.Dir(d.Path)) {
			return true
		}
	}
	return false
}

// Lookup returns the rule whose canonical form raw names, for the explicit
// protocol ("connect tcp:api.internal:443"), or nil.
func (p *Policy) Lookup(raw string) *Destination {
	if p == nil {
		return nil
	}
	d, err := ParseDestination(raw)
	if err != nil {
		return nil
	}
	for i := range p.Connect {
		if p.Connect[i].Raw == d.Raw {
			return &p.Connect[i]
		}
	}
	return nil
}
