//go:build cgo && seccomp

package seccompgen

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestWithBrokerRoutesEveryOpen: once routed, every open, whatever its
// flags, reaches the listener, while the profile's own program (the
// broker's fallback) still refuses a write-mode open under fs-read.
func TestWithBrokerRoutesEveryOpen(t *testing.T) {
	col := nativeCol(t)
	audit := uint32(auditArchX86_64)
	if runtime.GOARCH == "arm64" {
		audit = auditArchAARCH64
	}
	nr := func(name string) int32 { return int32(syscallTable()[name][col]) }
	base, err := Generate(Options{Groups: []string{"fs-read", "net-client"}})
	if err != nil {
		t.Fatal(err)
	}
	routed, err := WithBroker(base, BrokerCalls(true, true))
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := Program(base)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Program(routed)
	if err != nil {
		t.Fatal(err)
	}
	const oWronlyCreat = 0x1 | 0x40
	for _, c := range []struct {
		name           string
		args           [6]uint64
		routed, before uint32
	}{
		{"openat", [6]uint64{0, 0, 0}, retNotify, retAllow},
		{"openat", [6]uint64{0, 0, oWronlyCreat}, retNotify, retEPERM},
		{"openat2", [6]uint64{}, retNotify, retENOSYS},
		{"connect", [6]uint64{3}, retNotify, retAllow},
		{"getpid", [6]uint64{}, retAllow, retAllow},
		{"socket", [6]uint64{afInet}, retEPERM, retEPERM},
	} {
		if got := runBPF(t, prog, nr(c.name), audit, c.args); got != c.routed {
			t.Errorf("routed %s%v = %#x, want %#x", c.name, c.args[:3], got, c.routed)
		}
		if got := runBPF(t, fallback, nr(c.name), audit, c.args); got != c.before {
			t.Errorf("fallback %s%v = %#x, want %#x", c.name, c.args[:3], got, c.before)
		}
	}
	// The input is untouched.
	for _, e := range base.Syscalls {
		if e.Action == "SCMP_ACT_NOTIFY" {
			t.Errorf("WithBroker changed its input: %+v", e)
		}
	}
	text, err := ExplainBroker(routed, "openat", "", BrokerCalls(true, false))
	if err != nil || !strings.Contains(text, "goes to plugbox's broker") {
		t.Errorf("ExplainBroker(openat) = %q, %v", text, err)
	}
	if text, _ := ExplainBroker(routed, "getpid", "", BrokerCalls(true, false)); strings.Contains(text, "broker") {
		t.Errorf("ExplainBroker(getpid) mentions the broker: %q", text)
	}
}

// TestBrokerTCPSockets: a network "none" plugin with brokered tcp
// destinations may make AF_INET and AF_INET6 sockets (its namespace stays
// empty), and needs a socket group for it.
func TestBrokerTCPSockets(t *testing.T) {
	s, err := Generate(Options{Groups: []string{"net-client"}, BrokerTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	var families []uint64
	for _, e := range s.Syscalls {
		if slices.Contains(e.Names, "socket") && len(e.Args) == 1 {
			families = append(families, e.Args[0].Value)
		}
	}
	slices.Sort(families)
	if !slices.Equal(families, []uint64{afUnix, afInet, afInet6}) {
		t.Errorf("socket families = %v, want AF_UNIX, AF_INET, AF_INET6", families)
	}
	if _, err := Generate(Options{BrokerTCP: true}); err == nil || !strings.Contains(err.Error(), "net-client") {
		t.Errorf("BrokerTCP without a socket group: %v", err)
	}
}
