// Package doctor checks what this host offers plugbox's layers and says,
// for each, what plugbox will do with it and, when something is missing,
// the fix. `plugbox doctor` prints its report; the same probes are plain
// functions a host application can call.
//
// For tests only, the environment variable PLUGBOX_DOCTOR_SIMULATE (a
// comma-separated list of SimulateNoLandlock, SimulateNoUserNotif,
// SimulateNoUserNS) makes the probes report a host without those features,
// so that the report and exit status of such a host can be checked on any
// machine. It only ever makes the report worse; nothing else reads it.
package doctor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Status is the outcome of one check.
type Status string

// Statuses of a check.
const (
	// OK: the host offers it and plugbox uses it.
	OK Status = "ok"
	// Info: nothing to fix; the line says what plugbox does about it.
	Info Status = "info"
	// Warn: plugbox works, but something is weaker or unavailable (a
	// non-default use, e.g. rootless limits); the line has the fix.
	Warn Status = "warn"
	// Missing: a layer plugbox applies by default cannot be applied, so
	// authored plugins will not start; the line has the fix.
	Missing Status = "MISSING"
)

// Check is one line of the report.
type Check struct {
	// Name is the feature, e.g. "landlock".
	Name string `json:"name"`
	// Status is the outcome.
	Status Status `json:"status"`
	// Found says what the host offers and what plugbox will do with it.
	Found string `json:"found"`
	// Fix says how to get what is missing ("" when nothing is).
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of every check.
type Report struct {
	// Host names the system, e.g. "Linux 6.18.44, running as root".
	Host   string  `json:"host"`
	Checks []Check `json:"checks"`
}

// Failed reports whether a default layer cannot be applied.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Missing {
			return true
		}
	}
	return false
}

// Write prints the report, one line per check, the fix on the same line.
func (r *Report) Write(w io.Writer) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	if _, err := fmt.Fprintf(w, "plugbox doctor: %s\n", r.Host); err != nil {
		return err
	}
	for _, c := range r.Checks {
		line := fmt.Sprintf("%-7s %-*s  %s", c.Status, width, c.Name, c.Found)
		if c.Fix != "" {
			line += "; fix: " + c.Fix
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	missing := 0
	for _, c := range r.Checks {
		if c.Status == Missing {
			missing++
		}
	}
	var err error
	if missing > 0 {
		_, err = fmt.Fprintf(w, "plugbox doctor: %d default layer(s) cannot be applied: authored plugins will not start until fixed\n", missing)
	}
	return err
}

// Options are the inputs of Run.
type Options struct {
	// StateRoot is the --root plugbox would use.
	StateRoot string
	// Simulate lists features to report as missing (tests only): see
	// the package comment. SimulateFromEnv reads them.
	Simulate []string
}

// What Options.Simulate may name.
const (
	SimulateNoLandlock  = "no-landlock"
	SimulateNoUserNotif = "no-user-notif"
	SimulateNoUserNS    = "no-userns"
)

// SimulateEnv is the test-only environment variable of the package comment.
const SimulateEnv = "PLUGBOX_DOCTOR_SIMULATE"

// SimulateFromEnv returns the features SimulateEnv names, refusing an
// unknown one so that a test cannot pass on a misspelling.
func SimulateFromEnv() ([]string, error) {
	raw := os.Getenv(SimulateEnv)
	if raw == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(raw, ",") {
		switch s = strings.TrimSpace(s); s {
		case SimulateNoLandlock, SimulateNoUserNotif, SimulateNoUserNS:
			out = append(out, s)
		default:
			return nil, fmt.Errorf("%s=%q: %q is not one of %s, %s, %s (this variable is for tests only)", SimulateEnv, raw, s, SimulateNoLandlock, SimulateNoUserNotif, SimulateNoUserNS)
		}
	}
	return out, nil
}

func (o Options) simulates(what string) bool {
	for _, s := range o.Simulate {
		if s == what {
			return true
		}
	}
	return false
}

// checkStateRoot reports the owner and mode of the state root (or of the
// directory that will hold it), which must be the caller's and writable by
// nobody else: whoever can write it can swap container state.
func checkStateRoot(root string) Check {
	c := Check{Name: "state root"}
	uid := os.Geteuid()
	fi, err := os.Lstat(root)
	if os.IsNotExist(err) {
		parent := filepath.Dir(root)
		for {
			if _, err := os.Stat(parent); err == nil || parent == "/" {
				break
			}
			parent = filepath.Dir(parent)
		}
		c.Status = OK
		c.Found = fmt.Sprintf("%s does not exist yet: plugbox creates it mode 0700, owned by uid %d", root, uid)
		if st, err := os.Stat(parent); err == nil && !st.IsDir() {
			c.Status, c.Fix = Missing, fmt.Sprintf("%s is not a directory: pass another --root", parent)
		}
		return c
	}
	if err != nil {
		return Check{Name: "state root", Status: Missing, Found: err.Error(), Fix: "pass a --root you can create"}
	}
	st := fi.Sys().(*syscall.Stat_t)
	perm := fi.Mode().Perm()
	c.Found = fmt.Sprintf("%s: owner uid %d, mode %04o", root, st.Uid, perm)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		c.Status, c.Fix = Missing, "it is a symbolic link: remove it, or pass a --root that is a directory"
	case !fi.IsDir():
		c.Status, c.Fix = Missing, "it is not a directory: remove it, or pass another --root"
	case int(st.Uid) != uid:
		c.Status, c.Fix = Missing, fmt.Sprintf("it belongs to another user, who could plant container state: remove it, or pass a --root you own (you are uid %d)", uid)
	case perm&0o022 != 0:
		c.Status, c.Fix = Missing, fmt.Sprintf("group or others can write it and swap container state: run 'chmod 700 %s'", root)
	case perm&0o077 != 0:
		c.Status, c.Found = Warn, c.Found+" (others can list the containers)"
		c.Fix = fmt.Sprintf("run 'chmod 700 %s'", root)
	default:
		c.Status = OK
	}
	return c
}
