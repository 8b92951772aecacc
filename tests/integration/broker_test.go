package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// brokerManifest is a manifest with a broker section.
type brokerManifest struct {
	manifest
	Broker brokerSection `json:"broker"`
}

type brokerSection struct {
	Open    []brokerOpen `json:"open,omitempty"`
	Connect []string     `json:"connect,omitempty"`
}

type brokerOpen struct {
	Path   string `json:"path"`
	Access string `json:"access"`
	Mode   string `json:"mode,omitempty"`
}

// brokerHost is the host side of the broker tests: in/ holds the allowed
// a.png, a secret.txt next to it and link.png, a symbolic link to
// outside/secret; out/ is where the plugin may create files; other/ is a
// directory it may not create in.
type brokerHost struct {
	dir     string
	allowed string // tcp:127.0.0.1:PORT, a listener the rules name
	other   string // 127.0.0.1:PORT, a listener they do not
}

func newBrokerHost(t *testing.T) *brokerHost {
	t.Helper()
	h := &brokerHost{dir: workDir(t)}
	for _, d := range []string{"in", "out", "other", "outside"} {
		if err := os.Mkdir(filepath.Join(h.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"in/a.png": "allowed", "in/secret.txt": "secret next to it", "outside/secret": "secret outside"} {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(h.dir, "outside/secret"), filepath.Join(h.dir, "in/link.png")); err != nil {
		t.Fatal(err)
	}
	h.allowed = "tcp:" + listen(t, "allowed")
	h.other = listen(t, "other")
	return h
}

// listen starts a host listener on loopback that greets every connection
// with "hello from NAME" and returns its address.
func listen(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", name)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func (h *brokerHost) path(rel string) string { return filepath.Join(h.dir, rel) }

func (h *brokerHost) rules() brokerSection {
	return brokerSection{
		Open: []brokerOpen{
			{Path: h.path("in") + "/*.png", Access: "read"},
			{Path: h.path("out") + "/", Access: "create", Mode: "0640"},
		},
		Connect: []string{h.allowed},
	}
}

// initBrokerBundle authors a network "none" bundle with broker rules.
func initBrokerBundle(t testing.TB, plugbox, work, name, exe string, m brokerManifest) *sandbox {
	t.Helper()
	return initBundle(t, plugbox, work, name, exe, m)
}

// buildBrokerPlugin compiles the C plugin of the broker tests statically,
// against the one-file client header.
func buildBrokerPlugin(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "brokerplugin")
	header, err := filepath.Abs(filepath.Join("..", "..", "broker", "client"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cc", "-std=c11", "-O2", "-Wall", "-Werror", "-static", "-pthread", "-I", header, "-o", out, "brokerplugin/plugin.c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the C plugin: %v\n%s", err, msg)
	}
	return out
}

// brokerRecord is one broker line of 'plugbox violations --format json'.
type brokerRecord struct {
	Action string `json:"action"`
	Broker *struct {
		Op      string `json:"op"`
		Target  string `json:"target"`
		Via     string `json:"via"`
		Granted bool   `json:"granted"`
		Rule    string `json:"rule"`
		Reason  string `json:"reason"`
	} `json:"broker"`
}

func (b *sandbox) brokerRecords(t *testing.T, id string) []brokerRecord {
	t.Helper()
	out, err := exec.Command(b.plugbox, "--root", b.root, "violations", "--format", "json", id).Output()
	if err != nil {
		t.Fatalf("plugbox violations %s: %v", id, err)
	}
	var recs []brokerRecord
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r brokerRecord
		if line == "" || json.Unmarshal([]byte(line), &r) != nil || r.Broker == nil {
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// find returns the record of target via (seccomp or socket), failing t
// when there is none.
func findRecord(t *testing.T, recs []brokerRecord, target, via string) brokerRecord {
	t.Helper()
	for _, r := range recs {
		if r.Broker.Target == target && r.Broker.Via == via {
			return r
		}
	}
	t.Fatalf("no broker record of %s via %s in the violation log (%d broker records)", target, via, len(recs))
	return brokerRecord{}
}

func wantProbe(t *testing.T, r *runResult, name, prefix string) {
	t.Helper()
	if got := r.probe(t, name); !strings.HasPrefix(got, prefix) {
		t.Errorf("probe %s = %q, want %q...", name, got, prefix)
	}
}

// TestBrokerTransparent: a network "none" plugin that just calls open and
// connect gets what its broker rules grant, from the host, and nothing
// else; each grant and refusal is in the violation log.
func TestBrokerTransparent(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	h := newBrokerHost(t)
	exe := buildBrokerPlugin(t, work)
	allowedHostPort := strings.TrimPrefix(h.allowed, "tcp:")
	ip, port, _ := net.SplitHostPort(allowedHostPort)
	_, otherPort, _ := net.SplitHostPort(h.other)
	steps := []string{
		"read:allowed:" + h.path("in/a.png"),
		"open:openat:" + h.path("in/a.png"),
		"read:next:" + h.path("in/secret.txt"),
		"read:link:" + h.path("in/link.png"),
		"read:dotdot:" + h.path("in") + "/../outside/secret",
		"create:create:" + h.path("out/new.txt"),
		"create:create-again:" + h.path("out/new.txt"),
		"create:create-other:" + h.path("other/new.txt"),
		"create:create-escape:" + h.path("out") + "/../other/escape.txt",
		"connect:connect:" + ip + ":" + port,
		"connect:connect-other:" + ip + ":" + otherPort,
		"race:race:" + h.path("in/a.png") + ":" + h.path("outside/secret") + ":3000",
	}
	m := brokerManifest{
		manifest: manifest{Name: "broker-transparent", Command: append([]string{"/bin/plugin"}, steps...), Network: "none",
			Syscalls: []string{"base", "fs-read", "net-client"}, Limits: map[string]any{"pids": 16, "memory": "64M"}},
		Broker: h.rules(),
	}
	b := initBrokerBundle(t, plugbox, work, "transparent", exe, m)
	// seccomp explain says which calls go to the broker; check lists its rules.
	for call, want := range map[string]string{"openat": "goes to plugbox's broker", "connect": "goes to plugbox's broker", "getpid": "allowed"} {
		out, err := exec.Command(plugbox, "seccomp", "explain", b.dir, call).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) || call == "getpid" && strings.Contains(string(out), "broker") {
			t.Errorf("seccomp explain %s: %v\n%s", call, err, out)
		}
	}
	out, _ := exec.Command(plugbox, "check", b.dir).CombinedOutput()
	for _, want := range []string{"broker.open[0]", h.path("in") + "/*.png", "broker.open[1]", "broker.connect[0]", h.allowed} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check does not show %s:\n%s", want, out)
		}
	}
	r := b.keptRun(t, "broker-transparent")
	if r.err != nil {
		t.Fatalf("run: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}

	// The allowed file, read-only: a write through the descriptor fails.
	wantProbe(t, r, "allowed", "ok allowed")
	wantProbe(t, r, "allowed-write", "denied EBADF")
	wantProbe(t, r, "openat", "ok allowed")
	// Next to it, outside the glob; a symbolic link out; ".." out: the
	// call continues in the sandbox, where the host directory is not.
	wantProbe(t, r, "next", "denied ENOENT")
	wantProbe(t, r, "link", "denied ENOENT")
	wantProbe(t, r, "dotdot", "denied ENOENT")
	// A new file only in out/, with the rule's mode, made once.
	wantProbe(t, r, "create", "ok wrote")
	if st, err := os.Stat(h.path("out/new.txt")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("out/new.txt: %v (mode %v), want a file of mode 0640", err, st.Mode())
	} else if data, _ := os.ReadFile(h.path("out/new.txt")); string(data) != "made" {
		t.Errorf("out/new.txt holds %q", data)
	}
	wantProbe(t, r, "create-again", "denied")
	wantProbe(t, r, "create-other", "denied")
	wantProbe(t, r, "create-escape", "denied")
	for _, p := range []string{"other/new.txt", "other/escape.txt"} {
		if _, err := os.Lstat(h.path(p)); err == nil {
			t.Errorf("the plugin created %s outside its create rule", p)
		}
	}
	// The allowed port reaches the host's listener from an empty network
	// namespace; another port of the same host does not.
	wantProbe(t, r, "connect", "ok hello from allowed")
	wantProbe(t, r, "connect-other", "denied ECONNREFUSED")
	// A thread rewriting the path during the calls never gets the file
	// outside the rules; the race did happen (some opens were refused).
	race := r.probe(t, "race")
	var good, bad, failed, other int
	if _, err := fmt.Sscanf(race, "ok good=%d bad=%d failed=%d other=%d", &good, &bad, &failed, &other); err != nil {
		t.Fatalf("race probe %q: %v", race, err)
	}
	if bad != 0 || other != 0 || good == 0 {
		t.Errorf("race: %s: want good>0, bad=0, other=0", race)
	}
	if failed == 0 {
		t.Logf("race: no open saw a rewritten path (%s): the flipping thread never ran in between", race)
	}

	recs := b.brokerRecords(t, "broker-transparent")
	for _, c := range []struct {
		target, action, reason string
	}{
		{h.path("in/a.png"), "granted", ""},
		{h.path("in/secret.txt"), "refused", "no rule names this file"},
		{h.path("in/link.png"), "refused", "symbolic links"},
		{h.path("in") + "/../outside/secret", "refused", `".."`},
		{h.path("out/new.txt"), "granted", ""},
		{h.allowed, "granted", ""},
		{"tcp:" + h.other, "refused", "no rule names this destination"},
	} {
		rec := findRecord(t, recs, c.target, "seccomp")
		if rec.Action != c.action || !strings.Contains(rec.Broker.Reason, c.reason) {
			t.Errorf("record of %s: %s (%s), want %s (%s)", c.target, rec.Action, rec.Broker.Reason, c.action, c.reason)
		}
	}
	// state says the broker is in force.
	st, err := exec.Command(b.plugbox, "--root", b.root, "state", "broker-transparent").Output()
	if err != nil || !strings.Contains(string(st), `"org.plugbox.enforced.broker": "open 2, connect 1"`) {
		t.Errorf("plugbox state does not name the broker: %v\n%s", err, st)
	}
	// The text log shows them too, grants marked.
	out, err = exec.Command(b.plugbox, "--root", b.root, "violations", "broker-transparent").Output()
	if err != nil || !strings.Contains(string(out), "broker open "+h.path("in/a.png")+" (read) granted by broker.open[0] via seccomp") {
		t.Errorf("plugbox violations does not show the grant: %v\n%.2000s", err, out)
	}
}

// TestBrokerExec: a process exec'd into a running plugin's sandbox is
// brokered as the plugin is: its open of an allowed file is granted (and
// read-only), the file next to it refused, both in the sandbox's log.
func TestBrokerExec(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	h := newBrokerHost(t)
	exe := buildBrokerPlugin(t, work)
	m := brokerManifest{
		manifest: manifest{Name: "broker-exec", Command: []string{"/bin/plugin", "sleep:sleep:30"}, Network: "none",
			Syscalls: []string{"base", "fs-read", "process"}, Limits: map[string]any{"pids": 16, "memory": "64M"}},
		Broker: brokerSection{Open: []brokerOpen{{Path: h.path("in") + "/*.png", Access: "read"}}},
	}
	b := initBrokerBundle(t, plugbox, work, "exec", exe, m)
	id := fmt.Sprintf("broker-exec-%d", os.Getpid())
	pb := func(args ...string) *exec.Cmd {
		return exec.Command(plugbox, append([]string{"--root", b.root}, args...)...)
	}
	t.Cleanup(func() { pb("delete", "--force", id).Run() })
	logFile, err := os.Create(b.dir + ".out")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	detached := pb("run", "--detach", "--bundle", b.dir, id)
	detached.Stdout, detached.Stderr = logFile, logFile
	if err := detached.Run(); err != nil {
		out, _ := os.ReadFile(logFile.Name())
		t.Fatalf("run --detach: %v\n%s", err, out)
	}
	out, err := pb("exec", id, "/bin/plugin", "read:allowed:"+h.path("in/a.png"), "read:next:"+h.path("in/secret.txt")).CombinedOutput()
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	r := &runResult{stdout: string(out), probes: parseProbes(string(out))}
	wantProbe(t, r, "allowed", "ok allowed")
	wantProbe(t, r, "allowed-write", "denied EBADF")
	wantProbe(t, r, "next", "denied ENOENT")
	recs := b.brokerRecords(t, id)
	if rec := findRecord(t, recs, h.path("in/a.png"), "seccomp"); rec.Action != "granted" {
		t.Errorf("the exec'd process's grant: %+v", rec)
	}
	if rec := findRecord(t, recs, h.path("in/secret.txt"), "seccomp"); rec.Action != "refused" {
		t.Errorf("the exec'd process's refusal: %+v", rec)
	}
}

// TestBrokerExplicit: the explicit protocol, from the C header and from the
// Go client, grants and refuses as the rules say.
func TestBrokerExplicit(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	h := newBrokerHost(t)
	goPlugin := filepath.Join(work, "brokergo")
	build := exec.Command("go", "build", "-o", goPlugin, "./brokergo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go plugin: %v\n%s", err, msg)
	}
	cPlugin := buildBrokerPlugin(t, work)
	for _, c := range []struct {
		lang, exe string
		kinds     [3]string // open, create, connect step kinds
		groups    []string
	}{
		{"c", cPlugin, [3]string{"xopen", "xcreate", "xconnect"}, []string{"base", "fs-read"}},
		{"go", goPlugin, [3]string{"open", "create", "connect"}, []string{"base", "fs-read", "threads"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			steps := []string{
				c.kinds[0] + ":allowed:" + h.path("in/a.png"),
				c.kinds[0] + ":next:" + h.path("in/secret.txt"),
				c.kinds[0] + ":link:" + h.path("in/link.png"),
				c.kinds[1] + ":create:" + h.path("out/"+c.lang+".txt"),
				c.kinds[1] + ":create-other:" + h.path("other/"+c.lang+".txt"),
				c.kinds[2] + ":connect:" + h.allowed,
				c.kinds[2] + ":connect-other:tcp:" + h.other,
			}
			m := brokerManifest{
				manifest: manifest{Name: "broker-" + c.lang, Command: append([]string{"/bin/plugin"}, steps...), Network: "none",
					Syscalls: c.groups, Limits: map[string]any{"pids": 16, "memory": "64M"}},
				Broker: h.rules(),
			}
			// No net-client group: the explicit protocol needs no socket
			// calls, so the rules' connect section is checked without it.
			m.Broker.Connect = nil
			b := initBrokerBundle(t, plugbox, work, c.lang, c.exe, m)
			// Connect rules need the socket group (transparent connects);
			// a second bundle has them.
			m.Syscalls = append(m.Syscalls, "net-client")
			m.Broker.Connect = []string{h.allowed}
			bc := initBrokerBundle(t, plugbox, work, c.lang+"-connect", c.exe, m)

			r := b.keptRun(t, "broker-"+c.lang)
			if r.err != nil {
				t.Fatalf("run: %v\n%s\n%s", r.err, r.stdout, r.stderr)
			}
			wantProbe(t, r, "allowed", "ok allowed")
			wantProbe(t, r, "allowed-write", "denied EBADF")
			wantProbe(t, r, "next", "denied EACCES")
			wantProbe(t, r, "link", "denied ELOOP")
			wantProbe(t, r, "create", "ok wrote")
			wantProbe(t, r, "create-other", "denied EACCES")
			if _, err := os.Stat(h.path("other/" + c.lang + ".txt")); err == nil {
				t.Errorf("the %s client created a file outside its create rule", c.lang)
			}
			wantProbe(t, r, "connect", "denied EACCES")
			recs := b.brokerRecords(t, "broker-"+c.lang)
			if rec := findRecord(t, recs, h.path("in/a.png"), "socket"); rec.Action != "granted" {
				t.Errorf("record of the grant: %+v", rec)
			}
			if rec := findRecord(t, recs, h.path("in/secret.txt"), "socket"); rec.Action != "refused" {
				t.Errorf("record of the refusal: %+v", rec)
			}

			r = bc.keptRun(t, "broker-"+c.lang+"-connect")
			if r.err != nil {
				t.Fatalf("run: %v\n%s\n%s", r.err, r.stdout, r.stderr)
			}
			wantProbe(t, r, "connect", "ok hello from allowed")
			wantProbe(t, r, "connect-other", "denied EACCES")
		})
	}
}

// TestBrokerBundleErrors: bad rules stop bundle init with one line naming
// the field.
func TestBrokerBundleErrors(t *testing.T) {
	plugbox := plugboxBinary(t)
	work := workDir(t)
	exe := buildBrokerPlugin(t, work)
	for i, c := range []struct {
		broker brokerSection
		want   string
	}{
		{brokerSection{Open: []brokerOpen{{Path: "srv/in/a.png", Access: "read"}}}, `broker.open[0].path "srv/in/a.png" is relative`},
		{brokerSection{Open: []brokerOpen{{Path: "/srv/in/../x", Access: "read"}}}, `broker.open[0].path "/srv/in/../x" contains ".."`},
		{brokerSection{Open: []brokerOpen{{Path: "/srv/*/a.png", Access: "read"}}}, `broker.open[0].path "/srv/*/a.png": a glob may only be in the last component`},
		{brokerSection{Open: []brokerOpen{{Path: "/srv/in/a", Access: "execute"}}}, `broker.open[0].access "execute"`},
		{brokerSection{Connect: []string{"tcp:127.0.0.1"}}, `broker.connect[0]: "tcp:127.0.0.1"`},
	} {
		m := brokerManifest{manifest: manifest{Name: "bad", Command: []string{"/bin/plugin"}, Syscalls: []string{"base", "fs-read", "net-client"}}, Broker: c.broker}
		dir := filepath.Join(work, "bad"+strconv.Itoa(i))
		os.MkdirAll(dir, 0o755)
		data, _ := json.Marshal(m)
		mpath := filepath.Join(dir, "plugin.json")
		os.WriteFile(mpath, data, 0o644)
		out, err := exec.Command(plugbox, "bundle", "init", "--exec", exe, "--manifest", mpath, filepath.Join(dir, "bundle")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("bundle init with %+v: %v\n%s\nwant one line containing %q", c.broker, err, out, c.want)
		}
	}
}
