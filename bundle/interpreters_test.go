package bundle

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLookupInterpreter(t *testing.T) {
	for path, want := range map[string]string{
		"/usr/bin/python3":    "python3",
		"/usr/bin/python3.11": "python3",
		"/usr/bin/perl":       "perl",
		"/usr/bin/perl5.36.0": "perl",
		"/usr/bin/lua5.4":     "lua",
		"/usr/bin/luajit":     "lua",
		"/usr/bin/node":       "node",
		"/usr/bin/nodejs":     "node",
		"/bin/sh":             "sh",
		"/bin/busybox":        "sh",
		"/usr/bin/python2":    "",
		"/usr/bin/jq":         "",
		"/usr/bin/python3-x":  "",
	} {
		got := ""
		if it := lookupInterpreter(path); it != nil {
			got = it.name
		}
		if got != want {
			t.Errorf("lookupInterpreter(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestProbeOutputParsers(t *testing.T) {
	py := "/usr/lib/python311.zip\n/usr/lib/python3.11\n/usr/lib/python3.11/lib-dynload\n\nrelative\n"
	if got := lines(py); !reflect.DeepEqual(got, []string{"/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload"}) {
		t.Errorf("lines: %q", got)
	}
	lua := "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;./?.lua\n/usr/local/lib/lua/5.4/?.so;./?.so\n"
	if got := luaDirs(lua); !reflect.DeepEqual(got, []string{"/usr/local/share/lua/5.4", "/usr/local/share/lua/5.4", "/usr/local/lib/lua/5.4"}) {
		t.Errorf("luaDirs: %q", got)
	}
}

func TestEnvProgram(t *testing.T) {
	for line, want := range map[string]string{
		"python3":                  "python3",
		"-S python3 -u":            "python3",
		"-i PYTHONPATH=/x python3": "python3",
		"-u HOME node":             "node",
		"":                         "",
		"-S":                       "",
	} {
		if got := envProgram(strings.Fields(line)); got != want {
			t.Errorf("envProgram(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestOutermostAndAddReads(t *testing.T) {
	got := outermost([]string{"/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload", "/etc/perl", "/usr/lib/python3.110"})
	if !reflect.DeepEqual(got, []string{"/usr/lib/python3.11", "/etc/perl", "/usr/lib/python3.110"}) {
		t.Errorf("outermost: %q", got)
	}
	m := &Manifest{Read: []string{"/usr/share"}}
	n := &interpreterNeeds{binds: []string{"/usr/share/perl5", "/usr/lib/python3.11"}}
	out := n.addReads(m)
	if !reflect.DeepEqual(out.Read, []string{"/usr/share", "/usr/lib/python3.11"}) {
		t.Errorf("addReads: %q", out.Read)
	}
	if !reflect.DeepEqual(m.Read, []string{"/usr/share"}) {
		t.Errorf("addReads changed the caller's manifest: %q", m.Read)
	}
	if (*interpreterNeeds)(nil).addReads(m) != m {
		t.Error("no needs: want the manifest itself")
	}
}

// A fake interpreter that answers the probe tells which of its
// directories are bound: existing, trusted ones, outermost first.
func TestProbeInterpreterFiltersDirectories(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the probe runs as nobody only for root; the trust rules need root-owned directories")
	}
	top := t.TempDir()
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(top, "lib")
	open := filepath.Join(top, "open")
	for _, d := range []string{lib, filepath.Join(lib, "sub"), open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil { // writable by anyone: never bound
		t.Fatal(err)
	}
	fake := filepath.Join(top, "python3")
	script := "#!/bin/sh\n[ -z \"$HOME$PYTHONPATH\" ] || echo /env-leaked\n[ \"$(id -u)\" = 65534 ] || echo /not-nobody\necho " +
		lib + "/sub; echo " + lib + "; echo " + open + "; echo " + top + "/missing; echo relative\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONPATH", "/leak")
	needs, err := probeInterpreter(lookupInterpreter(fake), fake, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(needs.binds, []string{lib}) {
		t.Errorf("binds %q, want only %s", needs.binds, lib)
	}
	// Untrusted allowed: the open directory is bound too.
	needs, err = probeInterpreter(lookupInterpreter(fake), fake, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(needs.binds, []string{lib, open}) {
		t.Errorf("binds %q, want %s and %s", needs.binds, lib, open)
	}
	// An interpreter that fails names the fix.
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho broken >&2; exit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := probeInterpreter(lookupInterpreter(fake), fake, true); err == nil || !strings.Contains(err.Error(), `"read"`) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing probe: %v", err)
	}
}

func TestProbeDebianPython(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("Debian's python3 is not installed (apt-get install python3)")
	}
	needs, err := probeInterpreter(lookupInterpreter(py), py, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(needs.binds) == 0 || !strings.HasPrefix(needs.binds[0], "/usr/lib/python3.") {
		t.Fatalf("binds %q: want /usr/lib/python3.N first", needs.binds)
	}
	if len(needs.extensions) != 1 || needs.extensions[0] != needs.binds[0]+"/lib-dynload" {
		t.Errorf("extensions %q: want %s/lib-dynload", needs.extensions, needs.binds[0])
	}
}

func TestBindPointIsWhereTheInterpreterLooks(t *testing.T) {
	for _, tc := range []struct{ named, real, want string }{
		{"/usr/lib/x86_64-linux-gnu/perl/5.36", "/usr/lib/x86_64-linux-gnu/perl/5.36.0", "/usr/lib/x86_64-linux-gnu/perl/5.36"},
		{"/usr/share/perl5/", "/usr/share/perl5", "/usr/share/perl5"},
		// Never over the sandbox's own kernel file systems.
		{"/proc/self/root/usr/lib/python3.11", "/usr/lib/python3.11", "/usr/lib/python3.11"},
		{"/dev/shm/lib", "/var/lib/x", "/var/lib/x"},
		{"/sys", "/sys", "/sys"},
	} {
		if got := bindPoint(tc.named, tc.real); got != tc.want {
			t.Errorf("bindPoint(%q, %q) = %q, want %q", tc.named, tc.real, got, tc.want)
		}
	}
}
