package seccompgen

import (
	"slices"
	"strings"
	"testing"
)

func TestMinimize(t *testing.T) {
	o := func(name string, args ...uint64) Observed {
		var a [6]uint64
		copy(a[:], args)
		return Observed{Name: name, Args: a}
	}
	tests := []struct {
		name     string
		observed []Observed
		groups   []string
		extra    []string
		network  string
	}{
		{"nothing", nil, []string{"base"}, nil, NetworkNone},
		{"base calls only", []Observed{o("getpid"), o("clone", cloneThread|0xf00)}, []string{"base"}, nil, NetworkNone},
		{"read-only open", []Observed{o("openat", 0, 0, 0x80000), o("getdents64")}, []string{"base", "fs-read"}, nil, NetworkNone},
		{"write open", []Observed{o("openat", 0, 0, 0x80000), o("openat", 0, 0, 0x241)}, []string{"base", "fs-write"}, nil, NetworkNone},
		{"openat2 counts as fs-read", []Observed{o("openat2")}, []string{"base", "fs-read"}, nil, NetworkNone},
		{"unix socket", []Observed{o("socket", afUnix), o("connect")}, []string{"base", "net-client"}, nil, NetworkNone},
		{"inet client", []Observed{o("socket", afInet), o("socket", afInet6)}, []string{"base", "net-client"}, nil, NetworkLoopback},
		{"netlink", []Observed{o("socket", afNetlink)}, []string{"base", "net-client"}, nil, NetworkHost},
		{"inet server", []Observed{o("socket", afInet), o("bind"), o("listen"), o("accept4")}, []string{"base", "net-server"}, nil, NetworkLoopback},
		{"udp bind stays extra", []Observed{o("socket", afInet), o("bind")}, []string{"base", "net-client"}, []string{"bind"}, NetworkLoopback},
		{"fork", []Observed{o("clone", 17), o("wait4")}, []string{"base", "process"}, nil, NetworkNone},
		{"one timer call is extra", []Observed{o("timerfd_create")}, []string{"base"}, []string{"timerfd_create"}, NetworkNone},
		{"most of time is the group", []Observed{
			o("timer_create"), o("timer_settime"), o("timer_delete"), o("timer_gettime"), o("timerfd_create"), o("timerfd_settime"),
		}, []string{"base", "time"}, nil, NetworkNone},
		{"tty ioctl", []Observed{o("ioctl", 0, ioTCSETS), o("ioctl", 0, ioTCGETS)}, []string{"base", "tty"}, nil, NetworkNone},
		{"ungrouped call", []Observed{o("mlock"), o("mlock")}, []string{"base"}, []string{"mlock"}, NetworkNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Minimize(tt.observed)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Groups, tt.groups) || !slices.Equal(got.Extra, tt.extra) || got.Network != tt.network {
				t.Errorf("got groups %v extra %v network %q, want %v %v %q", got.Groups, got.Extra, got.Network, tt.groups, tt.extra, tt.network)
			}
			// The learned profile allows everything observed.
			s, err := Generate(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, ob := range tt.observed {
				want := "ALLOW"
				if ob.Name == "openat2" || ob.Name == "clone3" {
					want = "ENOSYS"
				}
				if v := verdict(t, s, ob.Name, ob.Args); v != want {
					t.Errorf("learned profile: %s%v gets %s, want %s", ob.Name, ob.Args[:3], v, want)
				}
			}
		})
	}
}

func TestMinimizeErrors(t *testing.T) {
	tests := []struct {
		obs  Observed
		want string
	}{
		{Observed{Name: "ptrace"}, "never grants (DeniedAlways)"},
		{Observed{Name: "frobnicate"}, "not a syscall"},
		{Observed{Name: "clone", Args: [6]uint64{cloneNewUser | 17}}, "namespace flags 0x10000000"},
		{Observed{Name: "ioctl", Args: [6]uint64{0, ioTIOCSTI}}, "0x5412 (TIOCSTI) is never granted"},
		{Observed{Name: "socket", Args: [6]uint64{17}}, "socket family 17"},
		{Observed{Name: "personality", Args: [6]uint64{0x400000}}, "personality(0x400000)"},
	}
	for _, tt := range tests {
		_, err := Minimize([]Observed{{Name: "getpid"}, tt.obs})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "observed[1]") {
			t.Errorf("Minimize(%v) = %v, want error containing %q", tt.obs, err, tt.want)
		}
	}
}
