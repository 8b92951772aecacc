package shimplan

import (
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/shim"
)

func TestRlimitsOf(t *testing.T) {
	tests := []struct {
		in   []specs.POSIXRlimit
		want []configs.Rlimit
		err  string
	}{
		{nil, nil, ""},
		{[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 64, Soft: 32}, {Type: "RLIMIT_CORE"}},
			[]configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Hard: 64, Soft: 32}, {Type: unix.RLIMIT_CORE}}, ""},
		{[]specs.POSIXRlimit{{Type: "NOFILE"}}, nil, `unknown type "NOFILE"`},
	}
	for _, tc := range tests {
		got, err := RlimitsOf(&specs.Process{Rlimits: tc.in})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%v: %v, %v", tc.in, got, err)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: [%d] = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// TestSplitRlimits: the shim applies every limit; libcontainer only raises
// a hard limit above this process's, keeping the current soft limit.
func TestSplitRlimits(t *testing.T) {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	lower := configs.Rlimit{Type: unix.RLIMIT_NOFILE, Hard: cur.Max - 1, Soft: 16}
	toShim, raise := SplitRlimits([]configs.Rlimit{lower})
	if len(toShim) != 1 || toShim[0] != (shim.Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: 16, Hard: cur.Max - 1}) || len(raise) != 0 {
		t.Errorf("a lower limit: shim %+v, libcontainer %+v; want it all in the shim", toShim, raise)
	}
	if cur.Max == unix.RLIM_INFINITY {
		return // nothing is above it
	}
	higher := configs.Rlimit{Type: unix.RLIMIT_NOFILE, Hard: cur.Max + 1, Soft: cur.Max + 1}
	toShim, raise = SplitRlimits([]configs.Rlimit{higher})
	if len(toShim) != 1 || len(raise) != 1 || raise[0].Hard != cur.Max+1 || raise[0].Soft != cur.Cur {
		t.Errorf("a higher hard limit: shim %+v, libcontainer %+v; want libcontainer to raise the hard limit only", toShim, raise)
	}
}

func TestLandlockRuleset(t *testing.T) {
	if landlockRuleset(nil) != nil {
		t.Error("no policy gave a ruleset")
	}
	l := landlockRuleset(&bundle.LandlockPolicy{ReadOnly: []string{"/srv/in"}, ReadWrite: []string{"/srv/out"}, BestEffort: true})
	access := map[string]uint64{}
	for _, r := range l.Rules {
		access[r.Path] = r.Access
	}
	if a := access["/srv/in"]; a&shim.AccessFSReadFile == 0 || a&shim.AccessFSWriteFile != 0 || a&shim.AccessFSMakeReg != 0 {
		t.Errorf("read-only path: access %#x", a)
	}
	if a := access["/srv/out"]; a&shim.AccessFSWriteFile == 0 || a&shim.AccessFSMakeReg == 0 {
		t.Errorf("read-write path: access %#x", a)
	}
	if access["/dev/null"]&shim.AccessFSWriteFile == 0 {
		t.Error("/dev/null is not writable")
	}
	if !l.BestEffort || l.HandledFS != shim.AccessFSAll || l.Scoped&shim.ScopeAbstractUnixSocket == 0 {
		t.Errorf("ruleset %+v: want best effort, every right handled, abstract sockets scoped", l)
	}
}
