package doctor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimulateFromEnv(t *testing.T) {
	t.Setenv(SimulateEnv, "no-landlock, no-userns")
	got, err := SimulateFromEnv()
	if err != nil || strings.Join(got, ",") != "no-landlock,no-userns" {
		t.Errorf("got %q, %v", got, err)
	}
	t.Setenv(SimulateEnv, "no-landlok")
	if _, err := SimulateFromEnv(); err == nil || !strings.Contains(err.Error(), "tests only") {
		t.Errorf("a misspelled feature: %v", err)
	}
	t.Setenv(SimulateEnv, "")
	if got, err := SimulateFromEnv(); got != nil || err != nil {
		t.Errorf("unset: %q, %v", got, err)
	}
}

func TestReportWriteAndFailed(t *testing.T) {
	r := Report{Host: "test host", Checks: []Check{
		{Name: "a", Status: OK, Found: "fine"},
		{Name: "longer", Status: Warn, Found: "weak", Fix: "do this"},
	}}
	if r.Failed() {
		t.Error("a warning fails the report")
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "plugbox doctor: test host\nok      a       fine\nwarn    longer  weak; fix: do this\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	r.Checks = append(r.Checks, Check{Name: "x", Status: Missing, Found: "gone", Fix: "get it"})
	buf.Reset()
	_ = r.Write(&buf)
	if !r.Failed() || !strings.HasSuffix(buf.String(), "1 default layer(s) cannot be applied: authored plugins will not start until fixed\n") {
		t.Errorf("missing layer: failed=%v\n%s", r.Failed(), buf.String())
	}
}

func TestCheckStateRoot(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	open := filepath.Join(dir, "open")
	readable := filepath.Join(dir, "readable")
	for p, mode := range map[string]os.FileMode{ok: 0o700, open: 0o777, readable: 0o755} {
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		root string
		want Status
		fix  string
	}{
		{ok, OK, ""},
		{filepath.Join(dir, "new", "root"), OK, ""},
		{open, Missing, "chmod 700 " + open},
		{readable, Warn, "chmod 700 " + readable},
		{link, Missing, "symbolic link"},
	} {
		c := checkStateRoot(tc.root)
		if c.Status != tc.want || !strings.Contains(c.Fix, tc.fix) {
			t.Errorf("%s: %s %q (fix %q), want %s with %q", tc.root, c.Status, c.Found, c.Fix, tc.want, tc.fix)
		}
	}
	if os.Geteuid() == 0 {
		theirs := filepath.Join(dir, "theirs")
		if err := os.Mkdir(theirs, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(theirs, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if c := checkStateRoot(theirs); c.Status != Missing || !strings.Contains(c.Fix, "another user") {
			t.Errorf("another user's root: %+v", c)
		}
	}
}
