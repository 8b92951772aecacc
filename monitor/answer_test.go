package monitor

import (
	"testing"

	"github.com/plugbox/plugbox/seccompgen"
)

func TestAnswerer(t *testing.T) {
	p, err := seccompgen.ParsePolicy("errno:EACCES", map[string]string{"mount": "errno", "ptrace": "kill", "getpriority": "audit"})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := seccompgen.Generate(seccompgen.Options{Groups: []string{"net-client"}, Violations: p, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	enforce, err := NewAnswerer(Policy{Mode: Audit, Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		call  string
		args  [6]uint64
		errno uint
		act   string
	}{
		{"fork", [6]uint64{}, 13, ActionDenied},
		{"mount", [6]uint64{}, 1, ActionDenied},
		{"socket", [6]uint64{2}, 13, ActionDenied},
		{"getpriority", [6]uint64{}, 0, ActionAudited},
		{"ptrace", [6]uint64{}, 1, ActionDenied}, // never routed (the kernel kills); fail closed
		{"", [6]uint64{}, 38, ActionDenied},
	} {
		a, rec := enforce.Answer(tt.call, tt.args)
		if a.Errno != tt.errno || a.Action != tt.act || rec != tt.args {
			t.Errorf("enforce %s%v: %+v recorded with %v, want errno %d %s", tt.call, tt.args[:1], a, rec, tt.errno, tt.act)
		}
	}

	learn, err := NewAnswerer(Policy{Mode: Learning, Allow: []string{"mount"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		call   string
		args   [6]uint64
		errno  uint
		record bool
	}{
		{"read", [6]uint64{3, 0x1000, 10}, 0, true},
		{"read", [6]uint64{4, 0x2000, 20}, 0, false}, // the same use: recorded as the first one's repeat
		{"socket", [6]uint64{1}, 0, true},
		{"socket", [6]uint64{2}, 0, true}, // another family is another use
		{"ptrace", [6]uint64{}, 1, true},
		{"ptrace", [6]uint64{}, 1, true}, // identical arguments: its own, and the first's
		{"mount", [6]uint64{}, 0, true},  // allowed on purpose
		{"clone", [6]uint64{0x10000000 | 17}, 1, true},
		{"ioctl", [6]uint64{0, 0x5412}, 1, true},
	} {
		a, rec := learn.Answer(tt.call, tt.args)
		if a.Errno != tt.errno || (rec == tt.args) != tt.record {
			t.Errorf("learning %s%v: %+v recorded with %v, want errno %d, its own arguments: %v", tt.call, tt.args[:2], a, rec, tt.errno, tt.record)
		}
	}
	if _, err := NewAnswerer(Policy{Mode: Violations}); err == nil {
		t.Error("an enforcing policy without a profile was accepted")
	}
	if _, err := NewAnswerer(Policy{Mode: "zap"}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
