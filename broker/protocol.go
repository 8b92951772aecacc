package broker

import (
	"errors"
	"fmt"
	"strings"
)

// FDName is the LISTEN_FDNAMES name of the explicit protocol's socket.
const FDName = "broker"

// MaxMessage bounds one request or reply of the explicit protocol.
const MaxMessage = maxPath + 64

// Request is one decoded request of the explicit protocol.
type Request struct {
	// Op is "open" or "connect".
	Op string
	// Open is the open request (Op "open").
	Open OpenRequest
	// Dest is the destination as the plugin wrote it (Op "connect").
	Dest string
}

// Open flag words of the explicit protocol: one access word, then
// modifiers, comma-separated ("write,create,excl").
var (
	accessWords   = map[string][2]bool{"read": {true, false}, "write": {false, true}, "readwrite": {true, true}}
	modifierWords = []string{"create", "excl", "trunc", "append", "nonblock", "cloexec", "sync"}
)

// ParseRequest decodes one message: "open PATH FLAGS" (PATH may hold
// spaces; FLAGS is the last word) or "connect DEST".
func ParseRequest(msg []byte) (Request, error) {
	if len(msg) > MaxMessage {
		return Request{}, fmt.Errorf("request of %d bytes: at most %d", len(msg), MaxMessage)
	}
	s := string(msg)
	if strings.ContainsAny(s, "\x00\n") {
		return Request{}, errors.New("a request holds no NUL byte or newline")
	}
	op, rest, _ := strings.Cut(s, " ")
	switch op {
	case "open":
		i := strings.LastIndexByte(rest, ' ')
		if i <= 0 {
			return Request{}, errors.New(`write "open PATH FLAGS", e.g. "open /srv/in/a.png read"`)
		}
		req, err := parseOpenFlags(rest[i+1:])
		if err != nil {
			return Request{}, err
		}
		req.Path = rest[:i]
		return Request{Op: "open", Open: req}, nil
	case "connect":
		if rest == "" || strings.Contains(rest, " ") {
			return Request{}, errors.New(`write "connect DEST", e.g. "connect tcp:127.0.0.1:8080"`)
		}
		return Request{Op: "connect", Dest: rest}, nil
	}
	return Request{}, fmt.Errorf("unknown request %q: use \"open PATH FLAGS\" or \"connect DEST\"", op)
}

func parseOpenFlags(words string) (OpenRequest, error) {
	var r OpenRequest
	parts := strings.Split(words, ",")
	access, ok := accessWords[parts[0]]
	if !ok {
		return r, fmt.Errorf("open flags %q: start with read, write or readwrite", words)
	}
	r.Read, r.Write = access[0], access[1]
	for _, w := range parts[1:] {
		switch w {
		case "create":
			r.Create = true
		case "excl":
			r.Exclusive = true
		case "trunc":
			r.Truncate = true
		case "append":
			r.Append = true
		case "nonblock":
			r.Nonblock = true
		case "cloexec":
			r.CloseOnExec = true
		case "sync":
			r.Sync = true
		default:
			return r, fmt.Errorf("open flag %q: use %s after the access word", w, strings.Join(modifierWords, ", "))
		}
	}
	if r.Exclusive && !r.Create {
		return r, errors.New(`open flag "excl" needs "create"`)
	}
	return r, nil
}

// FormatOpen encodes an open request, the inverse of ParseRequest.
func FormatOpen(r OpenRequest) string {
	w := "read"
	switch {
	case r.Read && r.Write:
		w = "readwrite"
	case r.Write:
		w = "write"
	}
	for _, m := range []struct {
		on   bool
		word string
	}{{r.Create, "create"}, {r.Exclusive, "excl"}, {r.Truncate, "trunc"}, {r.Append, "append"}, {r.Nonblock, "nonblock"}, {r.CloseOnExec, "cloexec"}, {r.Sync, "sync"}} {
		if m.on {
			w += "," + m.word
		}
	}
	return "open " + r.Path + " " + w
}

// Reply "ok" comes with exactly one descriptor (SCM_RIGHTS); an error
// reply is "error ENAME message", ENAME a symbolic errno the client maps
// to its own system's number.
const replyOK = "ok"

// Errno names the explicit protocol uses, portable between Linux and
// FreeBSD.
const (
	ErrDenied      = "EACCES"       // no rule grants the request
	ErrNotFound    = "ENOENT"       // the rule names it, the file is not there
	ErrExists      = "EEXIST"       // a create rule, and the file exists
	ErrLoop        = "ELOOP"        // a symbolic link on the way
	ErrInvalid     = "EINVAL"       // a malformed request
	ErrNotRegular  = "EISDIR"       // not a regular file (no directory descriptors)
	ErrRefused     = "ECONNREFUSED" // the host refused the connection
	ErrUnreachable = "EHOSTUNREACH" // no route, no address, or a timeout
	ErrIO          = "EIO"          // anything else
)

// FormatError encodes an error reply.
func FormatError(name, msg string) []byte {
	return []byte("error " + name + " " + strings.ReplaceAll(msg, "\n", " "))
}

// ParseReply decodes a reply: ok, or the error's name and message.
func ParseReply(msg []byte) (ok bool, name, text string, err error) {
	s := string(msg)
	if s == replyOK {
		return true, "", "", nil
	}
	rest, isErr := strings.CutPrefix(s, "error ")
	if !isErr {
		return false, "", "", fmt.Errorf("malformed broker reply %q", s)
	}
	name, text, _ = strings.Cut(rest, " ")
	return false, name, text, nil
}
