package seccompgen

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func args(v ...uint64) [6]uint64 {
	var a [6]uint64
	copy(a[:], v)
	return a
}

func TestParseAction(t *testing.T) {
	for in, want := range map[string]Action{
		"errno":        {},
		"errno:EPERM":  {},
		"errno:EACCES": {Kind: ActionErrno, Errno: 13},
		"enosys":       {Kind: ActionENOSYS},
		"kill":         {Kind: ActionKill},
		"kill-thread":  {Kind: ActionKillThread},
		"trap":         {Kind: ActionTrap},
		"log":          {Kind: ActionLog},
		"audit":        {Kind: ActionAudit},
	} {
		got, err := ParseAction(in)
		if err != nil || got != want {
			t.Errorf("ParseAction(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		back, _ := ParseAction(got.String())
		if back.Kind != want.Kind || back.errno() != want.errno() {
			t.Errorf("%q: String %q does not parse back", in, got.String())
		}
	}
	for in, msg := range map[string]string{
		"errno:ENOSYS": `use "enosys"`,
		"errno:EWHAT":  "not an errno name",
		"kill-process": "use \"errno\"",
		"":             "use \"errno\"",
	} {
		if _, err := ParseAction(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseAction(%q) = %v, want error containing %q", in, err, msg)
		}
	}
	if ErrnoName(95) != "ENOTSUP" || ErrnoName(13) != "EACCES" || ErrnoName(38) != "ENOSYS" || ErrnoName(200) != "200" {
		t.Errorf("ErrnoName: %s %s %s %s", ErrnoName(95), ErrnoName(13), ErrnoName(38), ErrnoName(200))
	}
	if len(Actions()) != 8 {
		t.Errorf("Actions() documents %d actions, want 8 (errno, errno:NAME and six more)", len(Actions()))
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy("kill", map[string]string{"mount": "errno:EPERM", "getpriority": "trap"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Default.Kind != ActionKill || p.For("mount") != (Action{}) || p.For("getpriority").Kind != ActionTrap || p.For("ptrace").Kind != ActionKill {
		t.Errorf("policy %+v", p)
	}
	if p.Monitor() != "violations" {
		t.Errorf("kill with an errno override: monitor %q, want violations (the override is logged)", p.Monitor())
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(data, &back); err != nil || back.Default != p.Default || len(back.Calls) != 2 || back.Calls["mount"] != p.Calls["mount"] {
		t.Errorf("JSON %s read back as %+v, %v", data, back, err)
	}
	for _, tt := range []struct {
		on    string
		calls map[string]string
		mon   string
	}{
		{"", nil, "violations"}, {"kill", nil, ""}, {"trap", nil, ""}, {"enosys", nil, ""},
		{"audit", nil, "audit"}, {"kill", map[string]string{"ptrace": "errno"}, "violations"},
		{"kill", map[string]string{"getpid": "audit"}, "audit"},
	} {
		p, err := ParsePolicy(tt.on, tt.calls)
		if err != nil || p.Monitor() != tt.mon {
			t.Errorf("ParsePolicy(%q, %v).Monitor() = %q, %v; want %q", tt.on, tt.calls, p.Monitor(), err, tt.mon)
		}
	}
	for _, tt := range []struct {
		on    string
		calls map[string]string
		msg   string
	}{
		{"zap", nil, `onViolation "zap"`},
		{"", map[string]string{"ptrace": "zap"}, `syscallActions["ptrace"] "zap"`},
		{"", map[string]string{"no_such": "kill"}, `syscallActions["no_such"]: not a syscall`},
		{"", map[string]string{"clone3": "kill"}, `syscallActions["clone3"]`},
		{"", map[string]string{"ptrace": "log"}, "never granted"},
		{"", map[string]string{"io_uring_setup": "audit"}, "would let it run"},
		{"log", map[string]string{"mount": "errno", "getpid": "audit"}, `onViolation is "log" and syscallActions["getpid"] is "audit"`},
	} {
		if _, err := ParsePolicy(tt.on, tt.calls); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParsePolicy(%q, %v) = %v, want error containing %q", tt.on, tt.calls, err, tt.msg)
		}
	}
}

func TestPolicyOf(t *testing.T) {
	for want, opts := range map[string]Policy{
		"errno": {}, "errno:EACCES": {Default: Action{Errno: 13}}, "enosys": {Default: Action{Kind: ActionENOSYS}},
		"kill": {Default: Action{Kind: ActionKill}}, "kill-thread": {Default: Action{Kind: ActionKillThread}},
		"trap": {Default: Action{Kind: ActionTrap}}, "log": {Default: Action{Kind: ActionLog}},
	} {
		s, err := Generate(Options{Violations: opts, Arch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		if got := PolicyOf(s, false).Default.String(); got != want {
			t.Errorf("PolicyOf(%s profile) = %s", want, got)
		}
	}
	s, _ := Generate(Options{Violations: Policy{Default: Action{Kind: ActionAudit}}, Arch: "amd64"})
	if got := PolicyOf(s, true).Default.String(); got != "audit" {
		t.Errorf("PolicyOf(audit profile, monitor audit) = %s", got)
	}
}

// TestGenerateActions checks what each action, and each per-call action,
// puts in the profile for calls it denies, by the arguments too.
func TestGenerateActions(t *testing.T) {
	type call struct {
		name string
		args [6]uint64
		want string
	}
	c := func(name, want string, a ...uint64) call { return call{name, args(a...), want} }
	pol := func(def string, calls map[string]string) Policy {
		p, err := ParsePolicy(def, calls)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		opts  Options
		calls []call
	}{
		{"errno:EACCES", Options{Violations: pol("errno:EACCES", nil)}, []call{
			c("ptrace", "EACCES"), c("fork", "EACCES"), c("socket", "EACCES", afInet), c("clone3", "ENOSYS"), c("getpid", "ALLOW"),
		}},
		{"enosys", Options{Violations: pol("enosys", nil)}, []call{c("ptrace", "ENOSYS"), c("getpid", "ALLOW")}},
		{"kill-thread", Options{Violations: pol("kill-thread", nil)}, []call{c("ptrace", "KILL_THREAD"), c("clone", "KILL_THREAD", 17)}},
		{"trap", Options{Violations: pol("trap", nil)}, []call{c("getpriority", "TRAP"), c("clone", "ALLOW", cloneThread)}},
		{"log keeps never-granted calls denied", Options{Groups: []string{"net-client"}, Violations: pol("log", nil)}, []call{
			c("getpriority", "LOG"), c("fork", "LOG"), c("ptrace", "EPERM"), c("io_uring_setup", "EPERM"),
			c("clone", "LOG", 17), c("clone", "EPERM", cloneNewUser|17), c("clone", "EPERM", cloneThread|cloneNewNS|cloneNewNet),
			c("ioctl", "EPERM", 0, ioTIOCSTI), c("ioctl", "EPERM", 0, ioTIOCSTI|1<<32), c("ioctl", "LOG", 0, ioTCSETS),
			c("socket", "ALLOW", afUnix), c("socket", "LOG", afInet), c("socket", "EPERM", 17), c("socket", "EPERM", 40), c("socket", "EPERM", afUnix|1<<32),
		}},
		{"audit", Options{Violations: pol("audit", nil)}, []call{c("getpriority", "LOG"), c("mount", "EPERM"), c("clone", "EPERM", cloneNewUser)}},
		{"plain overrides", Options{Violations: pol("errno", map[string]string{"ptrace": "kill", "mount": "errno:EACCES", "getpriority": "trap", "fork": "kill-thread"})}, []call{
			c("ptrace", "KILL"), c("mount", "EACCES"), c("getpriority", "TRAP"), c("fork", "KILL_THREAD"), c("umount2", "EPERM"),
		}},
		{"clone override covers its denied arguments only", Options{Violations: pol("errno", map[string]string{"clone": "kill"})}, []call{
			c("clone", "ALLOW", cloneThread|0xf00), c("clone", "KILL", 17), c("clone", "KILL", cloneThread|cloneNewUser),
			c("clone", "KILL", cloneNewPID|cloneNewNet|17), c("clone", "KILL", cloneThread|cloneNewNet), c("fork", "EPERM"),
		}},
		{"clone override with process", Options{Groups: []string{"process"}, Violations: pol("kill", map[string]string{"clone": "errno:EACCES"})}, []call{
			c("clone", "ALLOW", 17), c("clone", "ALLOW", cloneThread), c("clone", "EACCES", cloneNewNS|17), c("ptrace", "KILL"),
		}},
		{"socket override", Options{Groups: []string{"net-client"}, Network: NetworkLoopback, Violations: pol("errno", map[string]string{"socket": "kill"})}, []call{
			c("socket", "ALLOW", afUnix), c("socket", "ALLOW", afInet6), c("socket", "KILL", afNetlink), c("socket", "KILL", 0),
			c("socket", "KILL", 3), c("socket", "KILL", 17), c("socket", "KILL", afInet|1<<32),
		}},
		{"openat override under fs-read", Options{Groups: []string{"fs-read"}, Violations: pol("errno", map[string]string{"openat": "errno:EROFS"})}, []call{
			c("openat", "ALLOW", 0, 0, 0x80000), c("openat", "EROFS", 0, 0, 0x241), c("openat", "EROFS", 0, 0, 0x2), c("openat", "EROFS", 0, 0, 0x400000),
			c("open", "EPERM", 0, 1),
		}},
		{"socket without a net group", Options{Violations: pol("errno", map[string]string{"socket": "kill"})}, []call{c("socket", "KILL", afUnix)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Arch = "amd64"
			s, err := Generate(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDecider(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, cl := range tt.calls {
				got := verdict(t, s, cl.name, cl.args)
				if got != cl.want {
					t.Errorf("%s%v: got %s, want %s", cl.name, cl.args[:3], got, cl.want)
				}
				v := d.Decide(cl.name, cl.args)
				if dv := actionString(v.Action, &v.Errno); dv != got {
					t.Errorf("%s%v: Decide says %s, the reference %s", cl.name, cl.args[:3], dv, got)
				}
			}
			for i, e := range s.Syscalls {
				if len(e.Names) == 0 {
					t.Errorf("entry %d names no call", i)
				}
			}
		})
	}
}

func TestRoute(t *testing.T) {
	p, _ := ParsePolicy("errno:EACCES", map[string]string{"ptrace": "kill", "mount": "errno", "getpriority": "audit"})
	s, err := Generate(Options{Groups: []string{"fs-read"}, Violations: p, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(s)
	for _, audit := range []bool{false, true} {
		r := Route(s, audit)
		if r.ListenerMetadata != MetadataEnforce || r.DefaultAction != specs.ActNotify {
			t.Errorf("audit=%v: metadata %q default %s", audit, r.ListenerMetadata, r.DefaultAction)
		}
		wantLog := "LOG"
		if audit {
			wantLog = "NOTIFY"
		}
		for call, want := range map[string]string{
			"fork": "NOTIFY", "mount": "NOTIFY", "ptrace": "KILL", "getpid": "ALLOW", "clone3": "ENOSYS",
			"openat2": "ENOSYS", "getpriority": wantLog,
		} {
			if got := verdict(t, r, call, args()); got != want {
				t.Errorf("audit=%v: %s: got %s, want %s", audit, call, got, want)
			}
		}
		if got := verdict(t, r, "openat", args(0, 0, 0x41)); got != "NOTIFY" {
			t.Errorf("audit=%v: openat for writing: %s, want NOTIFY (the default)", audit, got)
		}
	}
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Error("Route modified its input")
	}
	if Route(nil, false) != nil {
		t.Error("Route(nil) != nil")
	}
}

func TestLearningProfile(t *testing.T) {
	s, err := LearningProfile("amd64")
	if err != nil {
		t.Fatal(err)
	}
	for call, want := range map[string]string{
		"read": "ALLOW", "execve": "ALLOW", "exit_group": "ALLOW", "write": "ALLOW", "getpid": "NOTIFY", "writev": "NOTIFY",
		"mmap": "NOTIFY", "ptrace": "NOTIFY", "clone3": "ENOSYS", "openat2": "ENOSYS", "file_setattr": "NOTIFY",
	} {
		if got := verdict(t, s, call, args()); got != want {
			t.Errorf("%s: got %s, want %s", call, got, want)
		}
	}
	if highestNamed(s, archs[0]) != 469 {
		t.Errorf("learning profile names calls up to #%d, want the table's newest (469)", highestNamed(s, archs[0]))
	}
}

func TestNeverGranted(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  [6]uint64
		never bool
		why   string
	}{
		{"ptrace", args(), true, "other processes"},
		{"io_uring_setup", args(), true, "seccomp never sees"},
		{"clone", args(cloneThread | 0xf00), false, ""},
		{"clone", args(17 | cloneNewUser | cloneNewNS), true, "CLONE_NEWNS|CLONE_NEWUSER"},
		{"ioctl", args(0, ioTIOCSTI), true, "TIOCSTI"},
		{"ioctl", args(0, ioTIOCSTI|1<<32), true, "TIOCSTI"},
		{"ioctl", args(0, 0x8912), false, ""},
		{"personality", args(0x0400000), true, "execution domain"},
		{"personality", args(personaQuery), false, ""},
		{"socket", args(afNetlink), false, ""},
		{"socket", args(17), true, "family 17"},
		{"getpid", args(), false, ""},
	} {
		why, never := NeverGranted(tt.name, tt.args)
		if never != tt.never || !strings.Contains(why, tt.why) {
			t.Errorf("NeverGranted(%s %#x) = %q, %v", tt.name, tt.args[:2], why, never)
		}
	}
	for _, n := range DeniedAlways() {
		if neverReasons[n] == "" {
			t.Errorf("DeniedAlways %s has no reason", n)
		}
	}
}

func TestLearn(t *testing.T) {
	seen := []Observed{
		{Name: "brk"}, {Name: "mmap"}, {Name: "write"}, {Name: "openat", Args: args(0, 0, 0x80000)},
		{Name: "socket", Args: args(afUnix, 1)}, {Name: "socket", Args: args(afInet, 2)},
		{Name: "ioctl", Args: args(1, ioTCGETS)}, {Name: "clone", Args: args(0x3d0f00)},
		{Name: "personality", Args: args(personaQuery)}, {Name: "ptrace"}, {Name: "ioctl", Args: args(0, ioTIOCSTI)},
		{Name: "clone", Args: args(cloneNewUser | 17)}, {Name: "clone3"}, {Name: "syscall_999"},
	}
	l, refused, err := Learn(seen, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range refused {
		names = append(names, r.Name)
	}
	if strings.Join(names, " ") != "ptrace ioctl clone syscall_999" {
		t.Errorf("refused %v", refused)
	}
	kill, _ := ParsePolicy("kill", nil)
	s, ignored, err := l.Profile(kill, false)
	if err != nil || len(ignored) > 0 {
		t.Fatal(err, ignored)
	}
	want := []string{"brk", "clone", "execve", "exit", "exit_group", "ioctl", "mmap", "openat", "personality", "read", "restart_syscall", "rt_sigreturn", "socket", "write"}
	if got := AllowedCalls(s); !slices.Equal(got, want) {
		t.Errorf("allowed %v\nwant    %v", got, want)
	}
	if !slices.Equal(l.Calls(), want) {
		t.Errorf("Calls() = %v", l.Calls())
	}
	for _, cl := range []struct {
		name string
		a    [6]uint64
		want string
	}{
		{"socket", args(afUnix), "ALLOW"}, {"socket", args(afInet), "ALLOW"}, {"socket", args(afInet6), "KILL"},
		{"ioctl", args(0, ioTCGETS), "ALLOW"}, {"ioctl", args(0, ioTIOCGWINSZ), "KILL"}, {"ioctl", args(0, ioTIOCSTI), "KILL"},
		{"clone", args(cloneThread | 0x100), "ALLOW"}, {"clone", args(17), "KILL"}, {"clone", args(cloneThread | cloneNewUser), "KILL"},
		{"openat", args(0, 0, 0), "ALLOW"}, {"openat", args(0, 0, 1), "KILL"}, {"personality", args(0), "KILL"},
		{"getpid", args(), "KILL"}, {"ptrace", args(), "KILL"}, {"clone3", args(), "ENOSYS"}, {"openat2", args(), "ENOSYS"},
	} {
		if got := verdict(t, s, cl.name, cl.a); got != cl.want {
			t.Errorf("learned profile: %s%#x: %s, want %s", cl.name, cl.a[:3], got, cl.want)
		}
	}
	if f := NeverGrantedRules(s); len(f) != 0 {
		t.Errorf("a learned profile with nothing allowed on purpose: %v", f)
	}

	// Allowed on purpose: exactly what was seen, and check's rule finder sees it.
	l2, refused, err := Learn(seen, []string{"ptrace", "clone"})
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 2 || !slices.Equal(l2.AllowedNever(), []string{"clone", "ptrace"}) {
		t.Errorf("refused %v, allowed never %v", refused, l2.AllowedNever())
	}
	s2, _, _ := l2.Profile(kill, false)
	if verdict(t, s2, "clone", args(cloneNewUser|17)) != "ALLOW" || verdict(t, s2, "clone", args(cloneNewNet|17)) != "KILL" || verdict(t, s2, "ptrace", args()) != "ALLOW" {
		t.Error("allowed-on-purpose calls are not allowed exactly as seen")
	}
	var found []string
	for _, f := range NeverGrantedRules(s2) {
		found = append(found, f.What)
	}
	if strings.Join(found, "; ") != "ptrace; clone with CLONE_NEWUSER" {
		t.Errorf("NeverGrantedRules: %v", found)
	}

	// Round trip through the profile, and merging a second run.
	back, err := LearnedFrom(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LearnedFrom(s2, []string{"ptrace"}); err == nil || !strings.Contains(err.Error(), "clone") {
		t.Errorf("LearnedFrom without --allow-denied clone: %v", err)
	}
	more, _, _ := Learn([]Observed{{Name: "getpid"}, {Name: "openat", Args: args(0, 0, 0x241)}, {Name: "clone", Args: args(17)}}, nil)
	if err := back.Merge(more); err != nil {
		t.Fatal(err)
	}
	m, _, _ := back.Profile(kill, false)
	for _, cl := range []struct {
		name string
		a    [6]uint64
		want string
	}{{"getpid", args(), "ALLOW"}, {"openat", args(0, 0, 0x241), "ALLOW"}, {"clone", args(17), "ALLOW"}, {"socket", args(afInet), "ALLOW"}, {"socket", args(afInet6), "KILL"}} {
		if got := verdict(t, m, cl.name, cl.a); got != cl.want {
			t.Errorf("merged: %s: %s, want %s", cl.name, got, cl.want)
		}
	}

	// The manifest that would cover the first run.
	opts, uncovered, err := l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opts.Groups, []string{"base", "fs-read", "net-client", "process"}) && !slices.Equal(opts.Groups, []string{"base", "fs-read", "net-client"}) || opts.Network != NetworkLoopback {
		t.Errorf("manifest %+v", opts)
	}
	if len(uncovered) != 0 {
		t.Errorf("uncovered %v", uncovered)
	}
	if _, u, _ := l2.Manifest(); len(u) != 2 {
		t.Errorf("allowed-on-purpose calls a manifest cannot cover: %v", u)
	}
}

// TestLearnedOverrides: a per-call action for a call the plugin was seen to
// use no longer applies (the profile allows it); trace reports it.
func TestLearnedOverrides(t *testing.T) {
	l, _, _ := Learn([]Observed{{Name: "getpriority"}, {Name: "socket", Args: args(afUnix)}}, nil)
	p, _ := ParsePolicy("errno", map[string]string{"getpriority": "kill", "socket": "kill", "ptrace": "kill"})
	s, ignored, err := l.Profile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ignored) != 1 || !strings.Contains(ignored[0], `syscallActions["getpriority"]`) {
		t.Errorf("ignored %v", ignored)
	}
	if verdict(t, s, "socket", args(afInet)) != "KILL" || verdict(t, s, "ptrace", args()) != "KILL" || verdict(t, s, "getpriority", args()) != "ALLOW" {
		t.Error("the other per-call actions do not apply")
	}
}
