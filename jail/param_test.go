package jail

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestNoName(t *testing.T) {
	for in, want := range map[string]string{
		"persist":              "nopersist",
		"allow.set_hostname":   "allow.noset_hostname",
		"allow.mount.tmpfs":    "allow.mount.notmpfs",
		"ip4.saddrsel":         "ip4.nosaddrsel",
		"allow.reserved_ports": "allow.noreserved_ports",
	} {
		if got := NoName(in); got != want {
			t.Errorf("NoName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEncode(t *testing.T) {
	four := binary.NativeEndian.AppendUint32(nil, 4)
	minus := binary.NativeEndian.AppendUint32(nil, 0xffffffff)
	tests := []struct {
		p         Param
		name, val []byte
	}{
		{StringParam("path", "/r"), []byte("path\x00"), []byte("/r\x00")},
		{StringParam("host.hostname", ""), []byte("host.hostname\x00"), []byte("\x00")},
		{IntParam("devfs_ruleset", 4), []byte("devfs_ruleset\x00"), four},
		{IntParam("securelevel", -1), []byte("securelevel\x00"), minus},
		{BoolParam("persist", true), []byte("persist\x00"), nil},
		{BoolParam("allow.mount", false), []byte("allow.nomount\x00"), nil},
		{RawParam("ip4.addr", []byte{10, 0, 0, 1}), []byte("ip4.addr\x00"), []byte{10, 0, 0, 1}},
	}
	for _, tt := range tests {
		n, v, err := tt.p.Encode()
		if err != nil {
			t.Errorf("%s: %v", tt.p, err)
			continue
		}
		if !reflect.DeepEqual(n, tt.name) || !reflect.DeepEqual(v, tt.val) {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", tt.p, n, v, tt.name, tt.val)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, p := range []Param{
		StringParam("", "x"),
		StringParam("na\x00me", "x"),
		StringParam("path", "/a\x00b"),
		{Name: "x", Kind: Kind(99)},
	} {
		if _, _, err := p.Encode(); err == nil {
			t.Errorf("Encode(%+v) succeeded, want error", p)
		}
	}
	if _, err := EncodeAll([]Param{IntParam("a", 1), StringParam("b", "\x00")}); err == nil {
		t.Error("EncodeAll with a NUL value succeeded")
	}
}

func TestEncodeAllLayout(t *testing.T) {
	bufs, err := EncodeAll([]Param{StringParam("name", "c1"), BoolParam("persist", true), IntParam("children.max", 0)})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("name\x00"), []byte("c1\x00"), []byte("persist\x00"), nil, []byte("children.max\x00"), {0, 0, 0, 0}}
	if !reflect.DeepEqual(bufs, want) {
		t.Errorf("EncodeAll = %q, want %q", bufs, want)
	}
}
