package jail

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func intp(i int) *int { return &i }

// base is the parameter list of a spec with no freebsd section: every
// default plugbox applies, in order.
func base(id string) []string {
	return []string{
		`name="` + id + `"`, `path="/r"`, "persist",
		"host=1", `host.hostname="` + id + `"`,
		"ip4=0", "ip6=0",
		"sysvmsg=1", "sysvsem=1", "sysvshm=1",
		"enforce_statfs=2", "securelevel=3", "children.max=0", "devfs_ruleset=4",
		"allow.noset_hostname", "allow.noraw_sockets", "allow.nochflags", "allow.nomount",
		"allow.noquotas", "allow.nosocket_af", "allow.nomlock", "allow.noreserved_ports",
		"allow.nosuser", "allow.noread_msgbuf", "allow.nounprivileged_proc_debug",
	}
}

func render(ps []Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
		if p.Kind == KindRaw {
			out[i] = p.Name + "=" + string(rune('0'+len(p.Raw)/4)) // count of 4-byte words
		}
	}
	return out
}

// replace returns list with old replaced by repl (old removed when repl is
// empty) and extra appended.
func replace(list []string, old string, repl ...string) []string {
	var out []string
	for _, s := range list {
		if s == old {
			out = append(out, repl...)
			continue
		}
		out = append(out, s)
	}
	return out
}

func TestParams(t *testing.T) {
	withJail := func(j specs.FreeBSDJail) *specs.Spec {
		return &specs.Spec{FreeBSD: &specs.FreeBSD{Jail: &j}}
	}
	tests := []struct {
		name string
		spec *specs.Spec
		want []string
	}{
		{"nil spec", nil, base("c1")},
		{"no jail section", &specs.Spec{FreeBSD: &specs.FreeBSD{}}, base("c1")},
		{"hostname", &specs.Spec{Hostname: "plug"}, replace(base("c1"), `host.hostname="c1"`, `host.hostname="plug"`)},
		{"domainname", &specs.Spec{Hostname: "plug", Domainname: "example.org"},
			replace(base("c1"), `host.hostname="c1"`, `host.hostname="plug"`, `host.domainname="example.org"`)},
		{"host new", withJail(specs.FreeBSDJail{Host: "new"}), base("c1")},
		{"host inherit", withJail(specs.FreeBSDJail{Host: "inherit"}), replace(replace(base("c1"), "host=1", "host=2"), `host.hostname="c1"`)},
		{"parent", withJail(specs.FreeBSDJail{Parent: "net"}), replace(base("c1"), `name="c1"`, `name="net.c1"`)},
		{"nested parent", withJail(specs.FreeBSDJail{Parent: "a.b"}), replace(base("c1"), `name="c1"`, `name="a.b.c1"`)},
		{"vnet new", withJail(specs.FreeBSDJail{Vnet: "new"}), replace(replace(base("c1"), "ip4=0", "vnet=1"), "ip6=0")},
		// F2: "inherit" is the kernel default and must not be sent, since a
		// vnet parameter of any value plus ip4/ip6 is EINVAL in kern_jail_set.
		{"vnet inherit", withJail(specs.FreeBSDJail{Vnet: "inherit"}), base("c1")},
		{"vnet inherit with addresses", withJail(specs.FreeBSDJail{Vnet: "inherit", Ip4Addr: []string{"10.0.0.1"}}), replace(base("c1"), "ip4=0", "ip4=1", "ip4.addr=1")},
		{"ip4 inherit", withJail(specs.FreeBSDJail{Ip4: "inherit"}), replace(base("c1"), "ip4=0", "ip4=2")},
		{"ip4 disable", withJail(specs.FreeBSDJail{Ip4: "disable"}), base("c1")},
		{"ip4 new without addresses", withJail(specs.FreeBSDJail{Ip4: "new"}), replace(base("c1"), "ip4=0", "ip4=1")},
		{"ip4 addresses", withJail(specs.FreeBSDJail{Ip4Addr: []string{"10.0.0.1", "10.0.0.2"}}), replace(base("c1"), "ip4=0", "ip4=1", "ip4.addr=2")},
		{"ip4 new with addresses", withJail(specs.FreeBSDJail{Ip4: "new", Ip4Addr: []string{"127.0.1.1"}}), replace(base("c1"), "ip4=0", "ip4=1", "ip4.addr=1")},
		{"ip6 inherit", withJail(specs.FreeBSDJail{Ip6: "inherit"}), replace(base("c1"), "ip6=0", "ip6=2")},
		{"ip6 addresses", withJail(specs.FreeBSDJail{Ip6Addr: []string{"fd10::1"}}), replace(base("c1"), "ip6=0", "ip6=1", "ip6.addr=4")},
		{"sysvmsg inherit", withJail(specs.FreeBSDJail{SysVMsg: "inherit"}), replace(base("c1"), "sysvmsg=1", "sysvmsg=2")},
		{"sysvsem disable", withJail(specs.FreeBSDJail{SysVSem: "disable"}), replace(base("c1"), "sysvsem=1", "sysvsem=0")},
		{"sysvshm new", withJail(specs.FreeBSDJail{SysVShm: "new"}), base("c1")},
		{"enforceStatfs 0", withJail(specs.FreeBSDJail{EnforceStatfs: intp(0)}), replace(base("c1"), "enforce_statfs=2", "enforce_statfs=0")},
		{"enforceStatfs 1", withJail(specs.FreeBSDJail{EnforceStatfs: intp(1)}), replace(base("c1"), "enforce_statfs=2", "enforce_statfs=1")},
		{"enforceStatfs 2", withJail(specs.FreeBSDJail{EnforceStatfs: intp(2)}), base("c1")},
		{"allow empty", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{}}), base("c1")},
		{"allow setHostname", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{SetHostname: true}}), replace(base("c1"), "allow.noset_hostname", "allow.set_hostname")},
		{"allow rawSockets", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{RawSockets: true}}), replace(base("c1"), "allow.noraw_sockets", "allow.raw_sockets")},
		{"allow chflags", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Chflags: true}}), replace(base("c1"), "allow.nochflags", "allow.chflags")},
		{"allow quotas", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Quotas: true}}), replace(base("c1"), "allow.noquotas", "allow.quotas")},
		{"allow socketAf", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{SocketAf: true}}), replace(base("c1"), "allow.nosocket_af", "allow.socket_af")},
		{"allow mlock", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Mlock: true}}), replace(base("c1"), "allow.nomlock", "allow.mlock")},
		{"allow reservedPorts", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{ReservedPorts: true}}), replace(base("c1"), "allow.noreserved_ports", "allow.reserved_ports")},
		{"allow suser", withJail(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Suser: true}}), replace(base("c1"), "allow.nosuser", "allow.suser")},
		{"allow mount", withJail(specs.FreeBSDJail{EnforceStatfs: intp(1), Allow: &specs.FreeBSDJailAllow{Mount: []string{"tmpfs", "nullfs"}}}),
			append(replace(replace(base("c1"), "allow.nomount", "allow.mount"), "enforce_statfs=2", "enforce_statfs=1"), "allow.mount.tmpfs", "allow.mount.nullfs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := Params("c1", "/r", tt.spec, Options{})
			if err != nil {
				t.Fatalf("Params: %v", err)
			}
			if got := render(ps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("params\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParamsAddressBytes(t *testing.T) {
	ps, err := Params("c1", "/r", &specs.Spec{FreeBSD: &specs.FreeBSD{Jail: &specs.FreeBSDJail{
		Ip4Addr: []string{"10.1.2.3"}, Ip6Addr: []string{"fd10::11:12:13"},
	}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, p := range ps {
		if p.Kind == KindRaw {
			got[p.Name] = p.Raw
		}
	}
	if want := []byte{10, 1, 2, 3}; !reflect.DeepEqual(got["ip4.addr"], want) {
		t.Errorf("ip4.addr = %v, want %v (struct in_addr, network order)", got["ip4.addr"], want)
	}
	want6 := []byte{0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0x12, 0, 0x13}
	if !reflect.DeepEqual(got["ip6.addr"], want6) {
		t.Errorf("ip6.addr = %x, want %x", got["ip6.addr"], want6)
	}
}

func TestParamsErrors(t *testing.T) {
	j := func(j specs.FreeBSDJail) *specs.Spec { return &specs.Spec{FreeBSD: &specs.FreeBSD{Jail: &j}} }
	tests := []struct {
		name, id, root string
		spec           *specs.Spec
		want           string // substring of the error
		unsupported    bool
		opts           Options
	}{
		{"empty id", "", "/r", nil, "container id: must not be empty", false, Options{}},
		{"dotted id", "a.b", "/r", nil, `container id: "a.b" contains '.'`, false, Options{}},
		{"numeric id", "123", "/r", nil, `container id: "123" is all digits`, false, Options{}},
		{"long id", strings.Repeat("a", 256), "/r", nil, "longer than 255 bytes", false, Options{}},
		{"relative root", "c1", "rootfs", nil, `root.path: jail path "rootfs" must be absolute`, false, Options{}},
		{"devices", "c1", "/r", &specs.Spec{FreeBSD: &specs.FreeBSD{Devices: []specs.FreeBSDDevice{{Path: "pf"}}}}, "freebsd.devices", true, Options{}},
		{"bad parent", "c1", "/r", j(specs.FreeBSDJail{Parent: "a..b"}), "freebsd.jail.parent: must not be empty", false, Options{}},
		{"numeric parent", "c1", "/r", j(specs.FreeBSDJail{Parent: "7"}), `freebsd.jail.parent: "7" is all digits`, false, Options{}},
		{"host disable", "c1", "/r", j(specs.FreeBSDJail{Host: "disable"}), `freebsd.jail.host: "disable" is not accepted`, false, Options{}},
		{"host bogus", "c1", "/r", j(specs.FreeBSDJail{Host: "shared"}), `freebsd.jail.host: "shared" is not valid; use "new" or "inherit"`, false, Options{}},
		{"host inherit with hostname", "c1", "/r", &specs.Spec{Hostname: "h", FreeBSD: &specs.FreeBSD{Jail: &specs.FreeBSDJail{Host: "inherit"}}}, `freebsd.jail.host is "inherit"`, false, Options{}},
		{"long hostname", "c1", "/r", &specs.Spec{Hostname: strings.Repeat("h", 256)}, "hostname:", false, Options{}},
		{"interface", "c1", "/r", j(specs.FreeBSDJail{Interface: "lo1"}), "freebsd.jail.interface", true, Options{}},
		{"vnetInterfaces", "c1", "/r", j(specs.FreeBSDJail{Vnet: "new", VnetInterfaces: []string{"epair0b"}}), "freebsd.jail.vnetInterfaces", true, Options{}},
		{"vnet disable", "c1", "/r", j(specs.FreeBSDJail{Vnet: "disable"}), `freebsd.jail.vnet: "disable" is not accepted`, false, Options{}},
		{"vnet bogus", "c1", "/r", j(specs.FreeBSDJail{Vnet: "yes"}), `freebsd.jail.vnet: "yes" is not valid`, false, Options{}},
		{"vnet with ip4", "c1", "/r", j(specs.FreeBSDJail{Vnet: "new", Ip4: "inherit"}), `must be unset when freebsd.jail.vnet is "new"`, false, Options{}},
		{"vnet with ip6Addr", "c1", "/r", j(specs.FreeBSDJail{Vnet: "new", Ip6Addr: []string{"fd00::1"}}), `must be unset when freebsd.jail.vnet is "new"`, false, Options{}},
		{"ip4 bogus", "c1", "/r", j(specs.FreeBSDJail{Ip4: "on"}), `freebsd.jail.ip4: "on" is not valid; use "new", "inherit" or "disable"`, false, Options{}},
		{"ip6 bogus", "c1", "/r", j(specs.FreeBSDJail{Ip6: "on"}), `freebsd.jail.ip6: "on" is not valid`, false, Options{}},
		{"ip4 inherit with addrs", "c1", "/r", j(specs.FreeBSDJail{Ip4: "inherit", Ip4Addr: []string{"10.0.0.1"}}), `freebsd.jail.ip4: "inherit" conflicts with freebsd.jail.ip4Addr`, false, Options{}},
		{"ip6 disable with addrs", "c1", "/r", j(specs.FreeBSDJail{Ip6: "disable", Ip6Addr: []string{"fd00::1"}}), `freebsd.jail.ip6: "disable" conflicts`, false, Options{}},
		{"ip4Addr not an address", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"10.0.0.1", "host.example"}}), `freebsd.jail.ip4Addr[1]: "host.example" is not a numeric IPv4 address`, false, Options{}},
		{"ip4Addr is v6", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"fd00::1"}}), `freebsd.jail.ip4Addr[0]: "fd00::1" is not a numeric IPv4 address`, false, Options{}},
		{"ip4Addr cidr", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"10.0.0.1/24"}}), `freebsd.jail.ip4Addr[0]`, false, Options{}},
		{"ip4Addr any", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"0.0.0.0"}}), `freebsd.jail.ip4Addr[0]: 0.0.0.0 cannot be a jail address`, false, Options{}},
		{"ip4Addr broadcast", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"255.255.255.255"}}), `cannot be a jail address`, false, Options{}},
		{"ip4Addr duplicate", "c1", "/r", j(specs.FreeBSDJail{Ip4Addr: []string{"10.0.0.1", "10.0.0.1"}}), `freebsd.jail.ip4Addr[1]: 10.0.0.1 is listed twice`, false, Options{}},
		{"ip6Addr is v4", "c1", "/r", j(specs.FreeBSDJail{Ip6Addr: []string{"10.0.0.1"}}), `freebsd.jail.ip6Addr[0]: "10.0.0.1" is not a numeric IPv6 address`, false, Options{}},
		{"ip6Addr mapped v4", "c1", "/r", j(specs.FreeBSDJail{Ip6Addr: []string{"::ffff:10.0.0.1"}}), `freebsd.jail.ip6Addr[0]`, false, Options{}},
		{"ip6Addr zone", "c1", "/r", j(specs.FreeBSDJail{Ip6Addr: []string{"fe80::1%em0"}}), `freebsd.jail.ip6Addr[0]`, false, Options{}},
		{"ip6Addr unspecified", "c1", "/r", j(specs.FreeBSDJail{Ip6Addr: []string{"::"}}), `freebsd.jail.ip6Addr[0]: :: cannot be a jail address`, false, Options{}},
		{"sysvmsg bogus", "c1", "/r", j(specs.FreeBSDJail{SysVMsg: "private"}), `freebsd.jail.sysvmsg: "private" is not valid`, false, Options{}},
		{"sysvsem bogus", "c1", "/r", j(specs.FreeBSDJail{SysVSem: "x"}), `freebsd.jail.sysvsem: "x" is not valid`, false, Options{}},
		{"sysvshm bogus", "c1", "/r", j(specs.FreeBSDJail{SysVShm: "x"}), `freebsd.jail.sysvshm: "x" is not valid`, false, Options{}},
		{"enforceStatfs 3", "c1", "/r", j(specs.FreeBSDJail{EnforceStatfs: intp(3)}), "freebsd.jail.enforceStatfs: 3 is out of range 0..2", false, Options{}},
		{"enforceStatfs -1", "c1", "/r", j(specs.FreeBSDJail{EnforceStatfs: intp(-1)}), "freebsd.jail.enforceStatfs: -1 is out of range 0..2", false, Options{}},
		{"allow.mount bad name", "c1", "/r", j(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Mount: []string{"tmpfs", "Null FS"}}}), `freebsd.jail.allow.mount[1]: "Null FS" is not a file system type name`, false, Options{}},
		{"allow.mount empty name", "c1", "/r", j(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Mount: []string{""}}}), `freebsd.jail.allow.mount[0]`, false, Options{}},
		{"allow.mount duplicate", "c1", "/r", j(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Mount: []string{"tmpfs", "tmpfs"}}}), `freebsd.jail.allow.mount[1]: "tmpfs" is listed twice`, false, Options{}},
		// F17: allow.mount is silently useless at enforce_statfs 2.
		{"allow.mount with enforceStatfs 2", "c1", "/r", j(specs.FreeBSDJail{Allow: &specs.FreeBSDJailAllow{Mount: []string{"tmpfs"}}}), "works only with enforceStatfs 0 or 1", false, Options{}},
		{"securelevel 4", "c1", "/r", nil, "securelevel 4 is out of range -1..3", false, Options{Securelevel: intp(4)}},
		{"children.max negative", "c1", "/r", nil, "children.max -1 is out of range", false, Options{ChildrenMax: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Params(tt.id, tt.root, tt.spec, tt.opts)
			if err == nil {
				t.Fatalf("Params succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrUnsupported); got != tt.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tt.unsupported)
			}
		})
	}
}

// F4: children.max is no longer forced to 0, and a parent that cannot hold
// children is reported before jail_set's bare EPERM.
func TestParamsChildrenMaxAndSecurelevel(t *testing.T) {
	ps, err := Params("c1", "/r", nil, Options{ChildrenMax: 4, Securelevel: intp(1)})
	if err != nil {
		t.Fatal(err)
	}
	want := replace(replace(base("c1"), "children.max=0", "children.max=4"), "securelevel=3", "securelevel=1")
	if got := render(ps); !reflect.DeepEqual(got, want) {
		t.Errorf("params\n got %q\nwant %q", got, want)
	}
}

func TestCheckParent(t *testing.T) {
	tests := []struct {
		parent   JailInfo
		childMax int
		want     string
	}{
		{JailInfo{JID: 3, ChildrenMax: 0}, 0, `jail "net" has children.max=0`},
		{JailInfo{JID: 3, ChildrenMax: 2, ChildrenCur: 2}, 0, "already holds children.max=2 jails"},
		{JailInfo{JID: 3, ChildrenMax: 2, ChildrenCur: 0}, 2, "children.max 2 must be below the children.max 2"},
		{JailInfo{JID: 3, ChildrenMax: 2, ChildrenCur: 1}, 1, ""},
	}
	for _, tt := range tests {
		err := CheckParent("net", tt.parent, tt.childMax)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.parent, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want %q", tt.parent, err, tt.want)
		}
	}
	if Parent(nil) != "" || Parent(&specs.Spec{FreeBSD: &specs.FreeBSD{Jail: &specs.FreeBSDJail{Parent: "net"}}}) != "net" {
		t.Error("Parent")
	}
}
