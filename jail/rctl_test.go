package jail

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func boolp(v bool) *bool   { return &v }

// F8: linux.resources limits become rctl rules instead of being dropped,
// and what has no rctl equivalent is refused with the field named.
func TestResourceRules(t *testing.T) {
	got, err := ResourceRules(&specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: i64(256 << 20), Swap: i64(384 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(64)},
		CPU:     &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []RctlRule{{"memoryuse", "deny", 256 << 20}, {"swapuse", "deny", 128 << 20}, {"maxproc", "deny", 64}, {"pcpu", "deny", 50}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	if r, err := ResourceRules(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(150001), Period: u64(100000)}}); err != nil || r[0] != (RctlRule{"pcpu", "deny", 151}) {
		t.Errorf("pcpu rounds up: %v %v", r, err)
	}
	if r, err := ResourceRules(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}, Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil || len(r) != 0 {
		t.Errorf("unlimited values make no rules: %v %v", r, err)
	}
	for name, tt := range map[string]struct {
		r    specs.LinuxResources
		want string
	}{
		"shares":      {specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512)}}, "linux.resources.cpu.shares"},
		"cpus":        {specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1"}}, "linux.resources.cpu.cpus"},
		"quota only":  {specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1)}}, "set cpu.period too"},
		"reservation": {specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(1)}}, "memory.reservation"},
		"oom":         {specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, "memory.disableOOMKiller"},
		"swap only":   {specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(1 << 20)}}, "memory.swap"},
		"blockIO":     {specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}}, "linux.resources.blockIO"},
		"hugepages":   {specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "hugepageLimits"},
		"unified":     {specs.LinuxResources{Unified: map[string]string{"io.max": "x"}}, "linux.resources.unified"},
		"allow dev":   {specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}, "linux.resources.devices[0]"},
	} {
		_, err := ResourceRules(&tt.r)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
		if name != "quota only" && name != "swap only" && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: not ErrUnsupported", name)
		}
	}
}

func TestParseRctlRules(t *testing.T) {
	got, err := ParseRctlRules("annotation", "memoryuse:deny=256m, maxproc:deny=64,openfiles:deny=1k,pcpu:deny=100,readbps:throttle=1g,wallclock:sigterm=60")
	if err != nil {
		t.Fatal(err)
	}
	want := []RctlRule{{"memoryuse", "deny", 256 << 20}, {"maxproc", "deny", 64}, {"openfiles", "deny", 1024}, {"pcpu", "deny", 100}, {"readbps", "throttle", 1 << 30}, {"wallclock", "sigterm", 60}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	r := RctlRule{"memoryuse", "deny", 268435456}
	if r.For("plug.c1") != "jail:plug.c1:memoryuse:deny=268435456" || r.Filter("plug.c1") != "jail:plug.c1:memoryuse:deny" {
		t.Errorf("For %q Filter %q", r.For("plug.c1"), r.Filter("plug.c1"))
	}
	for _, tt := range []struct{ in, want string }{
		{"memoryuse", "write RESOURCE:ACTION=AMOUNT"},
		{"memoryuse:deny", "missing =AMOUNT"},
		{"memory:deny=1", `unknown resource "memory"`},
		{"cputime:deny=10", "cputime cannot be denied"},
		{"pcpu:throttle=10", "pcpu cannot be throttled"},
		{"maxproc:throttle=10", "maxproc cannot be throttled"},
		{"maxproc:kill=10", `unknown action "kill"`},
		{"maxproc:deny=-1", "not a non-negative number"},
		{"maxproc:deny=12x", "not a non-negative number"},
		{"maxproc:deny=10/process", "/per suffix"},
		{"maxproc:deny=1,maxproc:deny=2", "two rules for maxproc:deny"},
	} {
		if _, err := ParseRctlRules("annotation", tt.in); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "annotation") {
			t.Errorf("%q: %v, want %q", tt.in, err, tt.want)
		}
	}
	if _, err := MergeRctl([]RctlRule{{"maxproc", "deny", 1}, {"maxproc", "log", 1}}); err != nil {
		t.Errorf("deny and log on one resource are distinct rules: %v", err)
	}
}
