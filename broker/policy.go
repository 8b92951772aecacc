package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Access is what an open rule lets a plugin do with the files it names.
type Access string

// Values of OpenSpec.Access.
const (
	// Read opens existing regular files read-only.
	Read Access = "read"
	// Write opens existing regular files for reading and writing (also
	// truncating and appending); it never creates one.
	Write Access = "write"
	// Create makes new regular files, with the rule's mode; it never
	// opens one that exists.
	Create Access = "create"
)

// DefaultCreateMode is the mode of the files a create rule makes when the
// rule gives none.
const DefaultCreateMode = 0o600

// maxPath bounds a path the broker considers (PATH_MAX less the NUL).
const maxPath = 4095

// Spec is the manifest's "broker" section as written:
//
//	"broker": {
//	  "open":    [{"path": "/srv/in/*.png", "access": "read"},
//	              {"path": "/srv/out/", "access": "create", "mode": "0640"}],
//	  "connect": ["tcp:127.0.0.1:8080", "tcp:api.internal:443", "unix:/run/app/api.sock"]
//	}
type Spec struct {
	// Open lists the host files the plugin may ask for.
	Open []OpenSpec `json:"open,omitempty"`
	// Connect lists the destinations the plugin may ask to be connected to.
	Connect []string `json:"connect,omitempty"`
}

// OpenSpec is one open rule as written.
type OpenSpec struct {
	// Path is a clean absolute host path: an exact file name, a glob in
	// its last component ("/srv/in/*.png"), or a directory with a trailing
	// slash ("/srv/out/"), which covers every file beneath it.
	Path string `json:"path"`
	// Access is "read", "write" or "create".
	Access Access `json:"access"`
	// Mode is the octal mode of the files a create rule makes ("0640";
	// default "0600"); only create rules take one.
	Mode string `json:"mode,omitempty"`
}

// Policy is a Spec decoded and checked: what the broker grants.
type Policy struct {
	Open    []FileRule
	Connect []Destination
	spec    Spec
}

// FileRule is one open rule, decoded.
type FileRule struct {
	// Field names the rule in messages and records: "broker.open[0]".
	Field string
	// Path is the rule as written.
	Path string
	// Dir is the host directory the rule's files are opened beneath.
	Dir string
	// Name is the last component, an exact name or a glob; "" when the
	// rule is a directory prefix.
	Name string
	// Glob says Name is a pattern (path.Match syntax).
	Glob   bool
	Access Access
	// Mode is the permission bits of the files a create rule makes.
	Mode uint32
}

// Destination is one connect rule, decoded.
type Destination struct {
	// Field names the rule: "broker.connect[0]".
	Field string
	// Raw is the canonical form: "tcp:127.0.0.1:8080", "tcp:[::1]:443",
	// "tcp:api.internal:443", "unix:/run/app/api.sock".
	Raw string
	// Network is "tcp" or "unix".
	Network string
	// Host is the tcp host: an IP literal or a DNS name, resolved on the
	// host when the plugin connects.
	Host string
	// IP is Host when it is an IP literal.
	IP   netip.Addr
	Port uint16
	// Path is the unix socket's host path.
	Path string
}

// IsZero reports whether the policy grants nothing.
func (p *Policy) IsZero() bool { return p == nil || len(p.Open) == 0 && len(p.Connect) == 0 }

// Spec returns the canonical form of the policy, as the annotation carries it.
func (p *Policy) Spec() Spec { return p.spec }

// Compile checks s and decodes it. Errors name the field
// ("broker.open[1].path") and say how to fix it.
func Compile(s Spec) (*Policy, error) {
	p := &Policy{}
	for i, o := range s.Open {
		r, err := compileOpen(fmt.Sprintf("broker.open[%d]", i), o)
		if err != nil {
			return nil, err
		}
		p.Open = append(p.Open, r)
		p.spec.Open = append(p.spec.Open, OpenSpec{Path: r.Path, Access: r.Access, Mode: modeString(r)})
	}
	seen := map[string]string{}
	for i, raw := range s.Connect {
		field := fmt.Sprintf("broker.connect[%d]", i)
		d, err := ParseDestination(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if prev, dup := seen[d.Raw]; dup {
			return nil, fmt.Errorf("%s %q is already listed as %s: list each destination once", field, raw, prev)
		}
		seen[d.Raw] = field
		d.Field = field
		p.Connect = append(p.Connect, d)
		p.spec.Connect = append(p.spec.Connect, d.Raw)
	}
	return p, nil
}

func modeString(r FileRule) string {
	if r.Access != Create {
		return ""
	}
	return fmt.Sprintf("%04o", r.Mode)
}

func compileOpen(field string, o OpenSpec) (FileRule, error) {
	r := FileRule{Field: field, Path: o.Path, Access: o.Access}
	p := o.Path
	switch {
	case p == "":
		return r, fmt.Errorf(`%s.path is empty: name a host file ("/srv/in/photo.png"), a glob in one directory ("/srv/in/*.png") or a directory ("/srv/out/")`, field)
	case !strings.HasPrefix(p, "/"):
		return r, fmt.Errorf("%s.path %q is relative: broker paths are absolute host paths, e.g. \"/srv/in/*.png\"", field, p)
	case strings.IndexByte(p, 0) >= 0 || strings.IndexByte(p, '\n') >= 0:
		return r, fmt.Errorf("%s.path %q contains a NUL byte or a newline", field, p)
	case len(p) > maxPath:
		return r, fmt.Errorf("%s.path is %d bytes long: keep it within %d", field, len(p), maxPath)
	}
	prefix := strings.HasSuffix(p, "/") && p != "/"
	body := strings.TrimSuffix(p, "/")
	for _, elem := range strings.Split(body, "/")[1:] {
		if elem == ".." {
			return r, fmt.Errorf("%s.path %q contains \"..\": name the directory itself", field, p)
		}
	}
	if p == "/" || body == "" {
		return r, fmt.Errorf("%s.path \"/\" would grant every host file: name a dedicated directory such as \"/srv/plugin-in/\"", field)
	}
	if clean := path.Clean(body); clean != body {
		if prefix {
			clean += "/"
		}
		return r, fmt.Errorf("%s.path %q is not clean (no \"//\" or \".\" components): write %q", field, p, clean)
	}
	dir, name := path.Split(body)
	dir = path.Clean(dir)
	if hasMeta(dir) {
		return r, fmt.Errorf("%s.path %q: a glob may only be in the last component, so that a rule covers one directory; list each directory in a rule of its own", field, p)
	}
	switch {
	case prefix:
		if hasMeta(name) {
			return r, fmt.Errorf("%s.path %q: a directory rule (trailing \"/\") cannot hold a glob; write the glob as the last component, e.g. %q", field, p, body+"/*")
		}
		r.Dir = body
	default:
		if _, err := path.Match(name, ""); err != nil {
			return r, fmt.Errorf("%s.path %q: malformed glob %q (path.Match syntax: *, ?, [a-z])", field, p, name)
		}
		r.Dir, r.Name, r.Glob = dir, name, hasMeta(name)
	}
	if top := hostKernelTop(r.Dir); top != "" {
		return r, fmt.Errorf("%s.path %q lies under %s, which holds host kernel interfaces: plugins may not open them", field, p, top)
	}
	switch o.Access {
	case Read, Write:
		if o.Mode != "" {
			return r, fmt.Errorf("%s.mode is only for \"access\": \"create\" rules (new files get it): remove it", field)
		}
	case Create:
		r.Mode = DefaultCreateMode
		if o.Mode != "" {
			m, err := strconv.ParseUint(o.Mode, 8, 32)
			if err != nil || m > 0o777 {
				return r, fmt.Errorf("%s.mode %q: write octal permission bits from \"0000\" to \"0777\" (no setuid, setgid or sticky bit)", field, o.Mode)
			}
			r.Mode = uint32(m)
		}
	case "":
		return r, fmt.Errorf(`%s.access is missing: use "read", "write" (existing files) or "create" (new files)`, field)
	default:
		return r, fmt.Errorf(`%s.access %q: use "read", "write" (existing files) or "create" (new files)`, field, o.Access)
	}
	return r, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// hostKernelTop returns the host kernel tree dir lies in, or "".
func hostKernelTop(dir string) string {
	for _, top := range []string{"/proc", "/sys", "/dev"} {
		if dir == top || strings.HasPrefix(dir, top+"/") {
			return top
		}
	}
	return ""
}

// ParseDestination decodes one connect rule: "tcp:HOST:PORT" (HOST an IP
// literal, IPv6 in brackets, or a DNS name) or "unix:/absolute/path".
func ParseDestination(raw string) (Destination, error) {
	network, rest, ok := strings.Cut(raw, ":")
	switch {
	case !ok:
		return Destination{}, fmt.Errorf("%q: write \"tcp:HOST:PORT\" or \"unix:/absolute/path\"", raw)
	case network == "unix":
		if !strings.HasPrefix(rest, "/") || path.Clean(rest) != rest || strings.IndexByte(rest, 0) >= 0 {
			return Destination{}, fmt.Errorf("%q: a unix socket is a clean absolute host path, e.g. \"unix:/run/app/api.sock\"", raw)
		}
		if len(rest) > 107 {
			return Destination{}, fmt.Errorf("%q: a unix socket path is at most 107 bytes (sockaddr_un)", raw)
		}
		return Destination{Raw: "unix:" + rest, Network: "unix", Path: rest}, nil
	case network == "tcp":
		host, portStr, err := net.SplitHostPort(rest)
		if err != nil || host == "" {
			return Destination{}, fmt.Errorf("%q: write \"tcp:HOST:PORT\", e.g. \"tcp:127.0.0.1:8080\" or \"tcp:[::1]:443\"", raw)
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || port == 0 {
			return Destination{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", raw, portStr)
		}
		d := Destination{Network: "tcp", Port: uint16(port)}
		if ip, err := netip.ParseAddr(host); err == nil {
			if ip.Zone() != "" {
				return Destination{}, fmt.Errorf("%q: an IPv6 zone (%%%s) is not supported", raw, ip.Zone())
			}
			d.IP = ip.Unmap()
			d.Host = d.IP.String()
		} else {
			if !validHostname(host) {
				return Destination{}, fmt.Errorf("%q: host %q is neither an IP address nor a DNS name", raw, host)
			}
			d.Host = strings.ToLower(strings.TrimSuffix(host, "."))
		}
		d.Raw = "tcp:" + net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port)))
		return d, nil
	}
	return Destination{}, fmt.Errorf("%q: unknown network %q: use \"tcp:\" or \"unix:\"", raw, network)
}

// validHostname accepts DNS names: labels of letters, digits and '-'.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Encode renders the policy's canonical Spec as the annotation's value.
func (p *Policy) Encode() (string, error) {
	data, err := json.Marshal(p.spec)
	if err != nil {
		return "", fmt.Errorf("encode broker rules: %w", err)
	}
	return string(data), nil
}

// Decode parses and compiles an annotation value written by Encode (or by
// hand). Unknown fields are errors: a misspelled rule is never ignored.
func Decode(value string) (*Policy, error) {
	dec := json.NewDecoder(strings.NewReader(value))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a broker section (%v): write {\"open\": [{\"path\": ..., \"access\": ...}], \"connect\": [...]}", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the broker section")
	}
	return Compile(s)
}
