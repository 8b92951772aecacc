package jail

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// defaultRulesets are rulesets 1..4 of /etc/defaults/devfs.rules as
// devfs(8) loads them: devfsrules_hide_all, devfsrules_unhide_basic,
// devfsrules_unhide_login and devfsrules_jail (which includes them and
// unhides fuse and zfs).
func defaultRulesets() map[int][]DevfsRule {
	unhide := func(rs, n int, pat string) DevfsRule {
		return DevfsRule{Ruleset: rs, Number: n, Icond: DRCPathptrn, Pattern: pat, Iacts: DRABacts, Bacts: DRBUnhide}
	}
	include := func(rs, n, inc int) DevfsRule {
		return DevfsRule{Ruleset: rs, Number: n, Iacts: DRAIncset, Incset: inc}
	}
	rs := map[int][]DevfsRule{
		1: {{Ruleset: 1, Number: 100, Iacts: DRABacts, Bacts: DRBHide}},
		4: {include(4, 100, 1), include(4, 200, 2), include(4, 300, 3), unhide(4, 400, "fuse"), unhide(4, 500, "zfs")},
	}
	for i, p := range []string{"log", "null", "zero", "crypto", "random", "urandom"} {
		rs[2] = append(rs[2], unhide(2, 100*(i+1), p))
	}
	for i, p := range []string{"ptyp*", "ptyq*", "ptyr*", "ptys*", "ptyP*", "ptyQ*", "ptyR*", "ptyS*",
		"ttyp*", "ttyq*", "ttyr*", "ttys*", "ttyP*", "ttyQ*", "ttyR*", "ttyS*",
		"ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr"} {
		rs[3] = append(rs[3], unhide(3, 100*(i+1), p))
	}
	return rs
}

func fetchFrom(rs map[int][]DevfsRule) func(int) ([]DevfsRule, error) {
	return func(n int) ([]DevfsRule, error) { return rs[n], nil }
}

// F9: devfsrules_jail hides every sensitive device and shows the usual
// ones; a ruleset that is not loaded, ruleset 0, or one that does not
// start by hiding everything is refused before the mount.
func TestCheckDevfsRuleset(t *testing.T) {
	rs := defaultRulesets()
	if err := CheckDevfsRuleset("mounts[0]", 4, fetchFrom(rs)); err != nil {
		t.Fatalf("devfsrules_jail refused: %v", err)
	}
	for _, d := range []string{"null", "zero", "random", "urandom", "pts/0", "fd/0", "stdin", "zfs", "ptyp0"} {
		if Hidden(rs, 4, Device{Name: d}) {
			t.Errorf("devfsrules_jail hides %s, which jails need", d)
		}
	}
	for _, d := range SensitiveDevices {
		if !Hidden(rs, 4, d) {
			t.Errorf("devfsrules_jail shows %s", d.Name)
		}
	}
	// devfsrules_jail_vnet (5) = include 4 + unhide pf: still accepted.
	rs[5] = []DevfsRule{{Ruleset: 5, Number: 100, Iacts: DRAIncset, Incset: 4}, {Ruleset: 5, Number: 200, Icond: DRCPathptrn, Pattern: "pf", Iacts: DRABacts, Bacts: DRBUnhide}}
	if err := CheckDevfsRuleset("m", 5, fetchFrom(rs)); err != nil {
		t.Errorf("devfsrules_jail_vnet: %v", err)
	}
	// A ruleset that unhides by type: "add type disk unhide" exposes disks.
	rs[6] = []DevfsRule{{Ruleset: 6, Number: 100, Iacts: DRAIncset, Incset: 4}, {Ruleset: 6, Number: 200, Icond: DRCDswflags, Dswflags: DDisk, Iacts: DRABacts, Bacts: DRBUnhide}}
	// Unhiding everything below a pattern: "add path 'ada*' unhide".
	rs[7] = []DevfsRule{{Ruleset: 7, Number: 100, Iacts: DRAIncset, Incset: 4}, {Ruleset: 7, Number: 200, Icond: DRCPathptrn, Pattern: "ada*", Iacts: DRABacts, Bacts: DRBUnhide}}
	for _, tt := range []struct {
		ruleset int
		want    string
	}{
		{0, "devfs ruleset 0 hides nothing"},
		{9, "devfs ruleset 9 is not loaded"},
		{2, "leaves host devices visible (ada0, ada0p1"},
		{6, "(ada0, ada0p1, da0, nvd0, nda0, vtbd0, md0, cd0, zvol/tank/vol)"},
		{7, "(ada0, ada0p1)"},
	} {
		err := CheckDevfsRuleset("mounts[1]", tt.ruleset, fetchFrom(rs))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "mounts[1]: ") {
			t.Errorf("ruleset %d: %v, want %q", tt.ruleset, err, tt.want)
		}
	}
	boom := errors.New("boom")
	if err := CheckDevfsRuleset("m", 4, func(int) ([]DevfsRule, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("fetch error: %v", err)
	}
}

// struct devfs_rule as DEVFSIO_RGETNEXT copies it (sys/fs/devfs/devfs.h):
// dr_magic @0, dr_id @4 (ruleset << 16 | rule), dr_icond @8, dr_dswflags
// @12, dr_pathptrn[200] @16, dr_iacts @216, dr_bacts @220, dr_uid @224,
// dr_gid @228, dr_mode (u_int16) @232, dr_incset (u_int16) @234.
func TestDevfsRuleLayout(t *testing.T) {
	if DevfsRulesetsIoctl != 0xc0ec4404 {
		t.Errorf("DEVFSIO_RGETNEXT = %#x, want _IOWR('D', 4, 236 bytes) = 0xc0ec4404", DevfsRulesetsIoctl)
	}
	q := DevfsRuleQuery(4, 300)
	if len(q) != 236 || binary.LittleEndian.Uint32(q) != 0xdb0a087a || binary.LittleEndian.Uint32(q[4:]) != 4<<16|300 {
		t.Errorf("query %x", q[:8])
	}
	b := make([]byte, 236)
	binary.LittleEndian.PutUint32(b[0:], 0xdb0a087a)
	binary.LittleEndian.PutUint32(b[4:], 4<<16|400)
	binary.LittleEndian.PutUint32(b[8:], DRCPathptrn)
	copy(b[16:], "pts/*")
	binary.LittleEndian.PutUint32(b[216:], DRABacts|DRAIncset)
	binary.LittleEndian.PutUint32(b[220:], DRBUnhide)
	binary.LittleEndian.PutUint16(b[234:], 3)
	r, err := ParseDevfsRule(b)
	if err != nil {
		t.Fatal(err)
	}
	if r != (DevfsRule{Ruleset: 4, Number: 400, Icond: DRCPathptrn, Pattern: "pts/*", Iacts: DRABacts | DRAIncset, Bacts: DRBUnhide, Incset: 3}) {
		t.Errorf("rule %+v", r)
	}
	b[0] = 0
	if _, err := ParseDevfsRule(b); err == nil {
		t.Error("bad magic parsed")
	}
	if _, err := ParseDevfsRule(b[:100]); err == nil {
		t.Error("short rule parsed")
	}
}

// fnmatch(3) without FNM_PATHNAME, as devfs_rule_matchpath calls it.
func TestFnmatch(t *testing.T) {
	for _, tt := range []struct {
		pat, name string
		want      bool
	}{
		{"pts/*", "pts/0", true}, {"*", "pts/0", true}, {"tty*", "ttyv0", true}, {"ada?", "ada0", true},
		{"ada?", "ada0p1", false}, {"tty[pq]*", "ttyq3", true}, {"tty[!pq]*", "ttyq3", false},
		{"tty[a-c]0", "ttyb0", true}, {`a\*`, "a*", true}, {`a\*`, "ab", false}, {"null", "null", true},
		{"null", "nullx", false}, {"[", "[", true}, {"x[]]", "x]", true}, {"", "", true},
	} {
		if got := fnmatch(tt.pat, tt.name); got != tt.want {
			t.Errorf("fnmatch(%q, %q) = %v", tt.pat, tt.name, got)
		}
	}
}
