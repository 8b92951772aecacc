package broker

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCompileRefusesBadRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string // in the error
	}{
		{"relative path", Spec{Open: []OpenSpec{{Path: "srv/in/a.png", Access: Read}}}, `broker.open[0].path "srv/in/a.png" is relative`},
		{"dot-dot", Spec{Open: []OpenSpec{{Path: "/srv/in/../etc/passwd", Access: Read}}}, `broker.open[0].path "/srv/in/../etc/passwd" contains ".."`},
		{"unclean", Spec{Open: []OpenSpec{{Path: "/srv//in/a", Access: Read}}}, `not clean`},
		{"glob spanning directories", Spec{Open: []OpenSpec{{Path: "/srv/*/a.png", Access: Read}}}, `broker.open[0].path "/srv/*/a.png": a glob may only be in the last component`},
		{"glob in a directory rule", Spec{Open: []OpenSpec{{Path: "/srv/in*/", Access: Read}}}, `cannot hold a glob`},
		{"malformed glob", Spec{Open: []OpenSpec{{Path: "/srv/in/[a", Access: Read}}}, `malformed glob`},
		{"root", Spec{Open: []OpenSpec{{Path: "/", Access: Read}}}, `would grant every host file`},
		{"host kernel files", Spec{Open: []OpenSpec{{Path: "/proc/1/environ", Access: Read}}}, `lies under /proc`},
		{"unknown access", Spec{Open: []OpenSpec{{Path: "/srv/in/a", Access: "exec"}}}, `broker.open[0].access "exec": use "read", "write"`},
		{"missing access", Spec{Open: []OpenSpec{{Path: "/srv/in/a"}}}, `broker.open[0].access is missing`},
		{"mode on a read rule", Spec{Open: []OpenSpec{{Path: "/srv/in/a", Access: Read, Mode: "0644"}}}, `broker.open[0].mode is only for`},
		{"setuid mode", Spec{Open: []OpenSpec{{Path: "/srv/out/", Access: Create, Mode: "4755"}}}, `broker.open[0].mode "4755"`},
		{"decimal mode", Spec{Open: []OpenSpec{{Path: "/srv/out/", Access: Create, Mode: "0968"}}}, `broker.open[0].mode "0968"`},
		{"second rule", Spec{Open: []OpenSpec{{Path: "/srv/in/a", Access: Read}, {Path: "in", Access: Read}}}, `broker.open[1].path`},
		{"no network", Spec{Connect: []string{"127.0.0.1:80"}}, `broker.connect[0]: "127.0.0.1:80": unknown network "127.0.0.1"`},
		{"udp", Spec{Connect: []string{"udp:127.0.0.1:53"}}, `unknown network "udp": use "tcp:" or "unix:"`},
		{"no port", Spec{Connect: []string{"tcp:127.0.0.1"}}, `broker.connect[0]: "tcp:127.0.0.1": write "tcp:HOST:PORT"`},
		{"port zero", Spec{Connect: []string{"tcp:127.0.0.1:0"}}, `port "0" is not a number from 1 to 65535`},
		{"port too big", Spec{Connect: []string{"tcp:127.0.0.1:65536"}}, `port "65536"`},
		{"bad host", Spec{Connect: []string{"tcp:exa_mple.com:443"}}, `neither an IP address nor a DNS name`},
		{"relative unix", Spec{Connect: []string{"unix:run/app.sock"}}, `clean absolute host path`},
		{"duplicate", Spec{Connect: []string{"tcp:127.0.0.1:80", "tcp:127.0.0.1:80"}}, `broker.connect[1] "tcp:127.0.0.1:80" is already listed as broker.connect[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile(%+v) = %v, want an error containing %q", tc.spec, err, tc.want)
			}
		})
	}
}

func TestCompileDecodesRules(t *testing.T) {
	p, err := Compile(Spec{
		Open: []OpenSpec{
			{Path: "/srv/in/*.png", Access: Read},
			{Path: "/srv/out/", Access: Create, Mode: "640"},
			{Path: "/srv/data/db.sqlite", Access: Write},
		},
		Connect: []string{"tcp:127.0.0.1:8080", "tcp:[::1]:443", "tcp:API.Internal.:443", "unix:/run/app/api.sock", "tcp:[::ffff:10.0.0.1]:80"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []FileRule{
		{Field: "broker.open[0]", Path: "/srv/in/*.png", Dir: "/srv/in", Name: "*.png", Glob: true, Access: Read},
		{Field: "broker.open[1]", Path: "/srv/out/", Dir: "/srv/out", Access: Create, Mode: 0o640},
		{Field: "broker.open[2]", Path: "/srv/data/db.sqlite", Dir: "/srv/data", Name: "db.sqlite", Access: Write},
	}
	for i, w := range want {
		if p.Open[i] != w {
			t.Errorf("open[%d] = %+v, want %+v", i, p.Open[i], w)
		}
	}
	raws := []string{"tcp:127.0.0.1:8080", "tcp:[::1]:443", "tcp:api.internal:443", "unix:/run/app/api.sock", "tcp:10.0.0.1:80"}
	for i, w := range raws {
		if p.Connect[i].Raw != w {
			t.Errorf("connect[%d] = %q, want %q", i, p.Connect[i].Raw, w)
		}
	}
	// The annotation round-trips to the same policy.
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(%s): %v", enc, err)
	}
	if enc2, _ := q.Encode(); enc2 != enc {
		t.Errorf("round trip changed the annotation:\n%s\n%s", enc, enc2)
	}
	if !strings.Contains(enc, `"mode":"0640"`) {
		t.Errorf("the annotation does not spell the create mode out: %s", enc)
	}
}

func TestDecodeRefusesUnknownFields(t *testing.T) {
	if _, err := Decode(`{"open":[{"path":"/srv/in/a","acess":"read"}]}`); err == nil || !strings.Contains(err.Error(), "acess") {
		t.Errorf("a misspelled field was accepted: %v", err)
	}
}

func mustCompile(t *testing.T, s Spec) *Policy {
	t.Helper()
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecideOpen(t *testing.T) {
	p := mustCompile(t, Spec{Open: []OpenSpec{
		{Path: "/srv/in/*.png", Access: Read},
		{Path: "/srv/out/", Access: Create},
		{Path: "/srv/data/db", Access: Write},
		{Path: "/srv/both/", Access: Write},
		{Path: "/srv/both/", Access: Create},
	}})
	ro := func(path string) OpenRequest { return OpenRequest{Path: path, Read: true} }
	for _, tc := range []struct {
		name     string
		req      OpenRequest
		existing string // rule field, "" none
		new      string
		rel      string
		concerns bool
		reason   string
	}{
		{"glob match", ro("/srv/in/a.png"), "broker.open[0]", "", "a.png", true, ""},
		{"unclean but same file", ro("/srv/in//./a.png"), "broker.open[0]", "", "a.png", true, ""},
		{"next to the glob", ro("/srv/in/secret.txt"), "", "", "", true, "no rule names this file"},
		{"below the glob's directory", ro("/srv/in/sub/a.png"), "", "", "", true, "no rule names this file"},
		{"dot-dot out of the directory", ro("/srv/in/../../etc/shadow"), "", "", "", true, `".." component`},
		{"dot-dot that stays inside", ro("/srv/in/x/../a.png"), "", "", "", true, `".." component`},
		{"write under a read rule", OpenRequest{Path: "/srv/in/a.png", Read: true, Write: true}, "", "", "", true, "a read rule (broker.open[0]) names it"},
		{"trunc under a read rule", OpenRequest{Path: "/srv/in/a.png", Read: true, Truncate: true}, "", "", "", true, "read rule"},
		{"create under a read rule", OpenRequest{Path: "/srv/in/b.png", Write: true, Create: true, Exclusive: true}, "", "", "", true, "read rule"},
		{"not a broker path", ro("/etc/passwd"), "", "", "", false, ""},
		{"relative", ro("srv/in/a.png"), "", "", "", false, ""},
		{"sibling prefix is not inside", ro("/srv/inside/a.png"), "", "", "", false, ""},
		{"create a new file", OpenRequest{Path: "/srv/out/x.png", Write: true, Create: true, Exclusive: true}, "", "broker.open[1]", "x.png", true, ""},
		{"create beneath", OpenRequest{Path: "/srv/out/sub/x.png", Write: true, Create: true}, "", "broker.open[1]", "sub/x.png", true, ""},
		{"open under a create rule", OpenRequest{Path: "/srv/out/x.png", Write: true}, "", "", "", true, "makes new files only"},
		{"the directory itself", ro("/srv/out"), "", "", "", true, "no rule names this file"},
		{"write an existing file", OpenRequest{Path: "/srv/data/db", Read: true, Write: true, Truncate: true}, "broker.open[2]", "", "db", true, ""},
		{"read under a write rule", ro("/srv/data/db"), "broker.open[2]", "", "db", true, ""},
		{"exclusive create under a write rule", OpenRequest{Path: "/srv/data/db", Write: true, Create: true, Exclusive: true}, "", "", "", true, "existing files only"},
		{"O_CREAT under write and create rules", OpenRequest{Path: "/srv/both/f", Write: true, Create: true}, "broker.open[3]", "broker.open[4]", "f", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.DecideOpen(tc.req)
			field := func(r *FileRule) string {
				if r == nil {
					return ""
				}
				return r.Field
			}
			if field(d.Existing) != tc.existing || field(d.New) != tc.new || d.Concerns != tc.concerns {
				t.Fatalf("DecideOpen(%+v) = existing %q new %q concerns %v (%s), want %q %q %v", tc.req, field(d.Existing), field(d.New), d.Concerns, d.Reason, tc.existing, tc.new, tc.concerns)
			}
			rel := d.ExistingRel
			if d.Existing == nil {
				rel = d.NewRel
			}
			if rel != tc.rel {
				t.Errorf("rel = %q, want %q", rel, tc.rel)
			}
			if tc.reason != "" && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", d.Reason, tc.reason)
			}
		})
	}
}

func TestMatchConnect(t *testing.T) {
	p := mustCompile(t, Spec{Connect: []string{"tcp:127.0.0.1:8080", "tcp:api.internal:443", "unix:/run/app/api.sock", "tcp:[::1]:9000"}})
	resolve := func(host string) []netip.Addr {
		if host == "api.internal" {
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}
		}
		return nil
	}
	tcp := func(ip string, port uint16) Address {
		return Address{Network: "tcp", IP: netip.MustParseAddr(ip), Port: port}
	}
	for _, tc := range []struct {
		a    Address
		want string
	}{
		{tcp("127.0.0.1", 8080), "broker.connect[0]"},
		{tcp("::ffff:127.0.0.1", 8080), "broker.connect[0]"},
		{tcp("127.0.0.1", 8081), ""},
		{tcp("127.0.0.2", 8080), ""},
		{tcp("10.1.2.3", 443), "broker.connect[1]"},
		{tcp("10.1.2.4", 443), ""},
		{tcp("::1", 9000), "broker.connect[3]"},
		{Address{Network: "unix", Path: "/run/app/api.sock"}, "broker.connect[2]"},
		{Address{Network: "unix", Path: "/run/app/other.sock"}, ""},
	} {
		d := p.MatchConnect(tc.a, resolve)
		got := ""
		if d != nil {
			got = d.Field
		}
		if got != tc.want {
			t.Errorf("MatchConnect(%s) = %q, want %q", tc.a, got, tc.want)
		}
	}
	if !p.ConcernsConnect(Address{Network: "unix", Path: "/run/app/other.sock"}) || p.ConcernsConnect(Address{Network: "unix", Path: "/run/nscd/socket"}) {
		t.Error("ConcernsConnect should record unix sockets in a rule's directory only")
	}
	if d := p.Lookup("tcp:API.internal:443"); d == nil || d.Field != "broker.connect[1]" {
		t.Errorf("Lookup by name = %+v", d)
	}
	if d := p.Lookup("tcp:10.1.2.3:443"); d != nil {
		t.Errorf("the explicit protocol names rules, not their addresses: got %+v", d)
	}
}
