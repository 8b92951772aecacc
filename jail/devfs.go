package jail

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Layout of struct devfs_rule (sys/fs/devfs/devfs.h) as DEVFSIO_RGETNEXT
// copies it: dr_magic and dr_id (u_int32), dr_icond and dr_dswflags (int),
// dr_pathptrn[DEVFS_MAXPTRNLEN = 200], dr_iacts and dr_bacts (int),
// dr_uid and dr_gid (u_int32), dr_mode (mode_t, u_int16) and dr_incset
// (devfs_rsnum, u_int16): 236 bytes.
const (
	devfsRuleSize   = 236
	devfsMagic      = 0xdb0a087a // DEVFS_MAGIC
	devfsPatternLen = 200        // DEVFS_MAXPTRNLEN
	drIcondOff      = 8
	drDswflagsOff   = 12
	drPatternOff    = 16
	drIactsOff      = 216
	drBactsOff      = 220
	drIncsetOff     = 234
)

// Condition and action bits of a devfs rule.
const (
	DRCDswflags = 0x001 // DRC_DSWFLAGS: match cdevsw d_flags
	DRCPathptrn = 0x002 // DRC_PATHPTRN: match the device name
	DRABacts    = 0x001 // DRA_BACTS: hide or unhide
	DRAIncset   = 0x010 // DRA_INCSET: run another ruleset
	DRBHide     = 0x001 // DRB_HIDE
	DRBUnhide   = 0x002 // DRB_UNHIDE
)

// cdevsw d_flags device types (sys/conf.h) that devfs(8)'s "type" keyword
// matches.
const (
	DTape = 0x0001 // D_TAPE
	DDisk = 0x0002 // D_DISK
	DTTY  = 0x0004 // D_TTY
	DMem  = 0x0008 // D_MEM
)

// DevfsRulesetsIoctl is DEVFSIO_RGETNEXT, _IOWR('D', 4, struct devfs_rule):
// given a rule id (ruleset << 16 | rule number), it returns the next rule
// of that ruleset, or ENOENT.
var DevfsRulesetsIoctl = ioc(iocIn|iocOut, 'D', 4, devfsRuleSize)

// DevfsRule is one rule of a devfs ruleset.
type DevfsRule struct {
	Ruleset  int
	Number   int
	Icond    int
	Dswflags int
	Pattern  string
	Iacts    int
	Bacts    int
	Incset   int
}

// DevfsRuleQuery returns the DEVFSIO_RGETNEXT argument asking for the rule
// of ruleset after rule number after (0 for the first).
func DevfsRuleQuery(ruleset, after int) []byte {
	buf := make([]byte, devfsRuleSize)
	binary.NativeEndian.PutUint32(buf, devfsMagic)
	binary.NativeEndian.PutUint32(buf[4:], uint32(ruleset)<<16|uint32(after&0xffff))
	return buf
}

// ParseDevfsRule decodes a struct devfs_rule the kernel returned.
func ParseDevfsRule(buf []byte) (DevfsRule, error) {
	if len(buf) != devfsRuleSize {
		return DevfsRule{}, fmt.Errorf("devfs rule: %d bytes, want %d", len(buf), devfsRuleSize)
	}
	if m := binary.NativeEndian.Uint32(buf); m != devfsMagic {
		return DevfsRule{}, fmt.Errorf("devfs rule: magic %#x, want %#x", m, devfsMagic)
	}
	id := binary.NativeEndian.Uint32(buf[4:])
	i32 := func(off int) int { return int(int32(binary.NativeEndian.Uint32(buf[off:]))) }
	pat := buf[drPatternOff : drPatternOff+devfsPatternLen]
	if n := strings.IndexByte(string(pat), 0); n >= 0 {
		pat = pat[:n]
	}
	return DevfsRule{
		Ruleset: int(id >> 16), Number: int(id & 0xffff),
		Icond: i32(drIcondOff), Dswflags: i32(drDswflagsOff), Pattern: string(pat),
		Iacts: i32(drIactsOff), Bacts: i32(drBactsOff),
		Incset: int(binary.NativeEndian.Uint16(buf[drIncsetOff:])),
	}, nil
}

// Device is a device name with its cdevsw type flags, for evaluating a
// ruleset against it.
type Device struct {
	Name  string
	Flags int
}

// SensitiveDevices are devices /etc/defaults/devfs.rules' devfsrules_jail
// (ruleset 4) hides and a jail must never see: raw disks (readable by
// jailed root, which owns them), memory and I/O ports, packet capture,
// the kernel's control and log devices, and the console ttys.
var SensitiveDevices = []Device{
	{"ada0", DDisk}, {"ada0p1", DDisk}, {"da0", DDisk}, {"nvd0", DDisk}, {"nda0", DDisk},
	{"vtbd0", DDisk}, {"md0", DDisk}, {"cd0", DDisk}, {"zvol/tank/vol", DDisk},
	{"mem", DMem}, {"kmem", DMem}, {"io", 0}, {"bpf", 0}, {"bpf0", 0},
	{"devctl", 0}, {"devctl2", 0}, {"klog", 0}, {"geom.ctl", 0}, {"mdctl", 0},
	{"console", DTTY}, {"ttyv0", DTTY}, {"ttyu0", DTTY}, {"kbdmux0", 0}, {"sysmouse", 0},
}

// Hidden reports whether ruleset hides dev once applied to a new devfs
// mount (every entry starts visible), following devfs_rule_run: rules run
// in order, a matching rule hides or unhides, and an include runs the
// included ruleset on the entry. rules maps each ruleset to its rules.
func Hidden(rules map[int][]DevfsRule, ruleset int, dev Device) bool {
	hidden := false
	var run func(rs int, depth int)
	run = func(rs int, depth int) {
		if depth > 16 {
			return // the kernel refuses loops (ds_running); be as safe
		}
		for _, r := range rules[rs] {
			if r.Icond&DRCDswflags != 0 && dev.Flags&r.Dswflags == 0 {
				continue
			}
			if r.Icond&DRCPathptrn != 0 && !fnmatch(r.Pattern, dev.Name) {
				continue
			}
			if r.Iacts&DRABacts != 0 {
				if r.Bacts&DRBHide != 0 {
					hidden = true
				}
				if r.Bacts&DRBUnhide != 0 {
					hidden = false
				}
			}
			if r.Iacts&DRAIncset != 0 {
				run(r.Incset, depth+1)
			}
		}
	}
	run(ruleset, 0)
	return hidden
}

// Includes returns the rulesets rules include, for fetching them.
func Includes(rules []DevfsRule) []int {
	var out []int
	for _, r := range rules {
		if r.Iacts&DRAIncset != 0 {
			out = append(out, r.Incset)
		}
	}
	return out
}

// CheckDevfsRuleset loads ruleset (and what it includes) with fetch and
// refuses it unless it hides every SensitiveDevices entry: ruleset 0 is no
// ruleset, and a number that was never loaded is created empty by
// devfs_ruleset_use, so either would expose all of /dev, raw disks
// included. field names the config entry in messages.
func CheckDevfsRuleset(field string, ruleset int, fetch func(int) ([]DevfsRule, error)) error {
	if ruleset == 0 {
		return fmt.Errorf("%s: devfs ruleset 0 hides nothing (the jail would see every host device); use ruleset=4 (devfsrules_jail) or one that includes it", field)
	}
	rules := map[int][]DevfsRule{}
	todo := []int{ruleset}
	for len(todo) > 0 {
		rs := todo[0]
		todo = todo[1:]
		if _, done := rules[rs]; done {
			continue
		}
		list, err := fetch(rs)
		if err != nil {
			return fmt.Errorf("%s: read devfs ruleset %d: %w", field, rs, err)
		}
		if list == nil {
			list = []DevfsRule{}
		}
		rules[rs] = list
		todo = append(todo, Includes(list)...)
	}
	if len(rules[ruleset]) == 0 {
		return fmt.Errorf("%s: devfs ruleset %d is not loaded, so it would hide nothing; load the rulesets (service devfs restart, or devfs_load_rulesets=\"YES\" in rc.conf) or pick a loaded one (devfs rule showsets)", field, ruleset)
	}
	var exposed []string
	for _, d := range SensitiveDevices {
		if !Hidden(rules, ruleset, d) {
			exposed = append(exposed, d.Name)
		}
	}
	if len(exposed) > 0 {
		return fmt.Errorf("%s: devfs ruleset %d leaves host devices visible (%s); start it with \"add include $devfsrules_jail\" or use ruleset=4", field, ruleset, strings.Join(exposed, ", "))
	}
	return nil
}

// fnmatch is fnmatch(3) with flags 0, as devfs_rule_matchpath calls it: '*'
// and '?' also match '/', brackets take ranges and a leading '!' or '^'
// negation, and a backslash quotes the next character.
func fnmatch(pattern, name string) bool {
	for len(pattern) > 0 {
		c := pattern[0]
		pattern = pattern[1:]
		switch c {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if fnmatch(pattern, name[i:]) {
					return true
				}
			}
			return false
		case '?':
			if name == "" {
				return false
			}
			name = name[1:]
		case '[':
			if name == "" {
				return false
			}
			ok, rest, valid := matchBracket(pattern, name[0])
			if !valid {
				// An unterminated bracket matches a literal '['.
				if name[0] != '[' {
					return false
				}
				name = name[1:]
				continue
			}
			if !ok {
				return false
			}
			pattern, name = rest, name[1:]
		case '\\':
			if len(pattern) > 0 {
				c = pattern[0]
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if name == "" || name[0] != c {
				return false
			}
			name = name[1:]
		}
	}
	return name == ""
}

// matchBracket matches ch against the bracket expression at the start of
// pattern (after '['); it returns the rest of the pattern after ']'.
func matchBracket(pattern string, ch byte) (match bool, rest string, valid bool) {
	negate := false
	if len(pattern) > 0 && (pattern[0] == '!' || pattern[0] == '^') {
		negate = true
		pattern = pattern[1:]
	}
	first := true
	for len(pattern) > 0 {
		c := pattern[0]
		if c == ']' && !first {
			return match != negate, pattern[1:], true
		}
		first = false
		pattern = pattern[1:]
		if c == '\\' && len(pattern) > 0 {
			c = pattern[0]
			pattern = pattern[1:]
		}
		hi := c
		if len(pattern) > 1 && pattern[0] == '-' && pattern[1] != ']' {
			hi = pattern[1]
			pattern = pattern[2:]
		}
		if c <= ch && ch <= hi {
			match = true
		}
	}
	return false, "", false
}
