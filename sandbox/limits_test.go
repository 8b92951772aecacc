package sandbox

import (
	"testing"
)

func TestCounter(t *testing.T) {
	for _, tc := range []struct {
		data, key string
		want      uint64
	}{
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill", 3}, // v1 memory.oom_control
		{"low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n", "oom_kill", 1},
		{"low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\n", "max", 12},
		{"max 7\n", "max", 7}, // pids.events
		{"max 7", "oom_kill", 0},
		{"", "max", 0},
		{"max notanumber\n", "max", 0},
	} {
		if got := counter([]byte(tc.data), tc.key); got != tc.want {
			t.Errorf("counter(%q, %q) = %d, want %d", tc.data, tc.key, got, tc.want)
		}
	}
}

func TestLimitHitsLines(t *testing.T) {
	if e := (limitHits{MemoryLimit: 64 << 20}).memoryEnd(true); e != nil {
		t.Errorf("no OOM kill, yet an end: %v", e)
	}
	h := limitHits{MemoryLimit: 64 << 20, OOMKills: 1}
	if got := h.memoryEnd(true).String(); got != "memory: killed by the memory limit (64M)" {
		t.Errorf("killed: %q", got)
	}
	h.OOMKills = 2
	if got := h.memoryEnd(false).String(); got != "memory: the memory limit (64M) killed 2 processes of the plugin (the OOM killer)" {
		t.Errorf("constrained: %q", got)
	}
	if got := (limitHits{PidsLimit: 16, PidsRefused: 1}).constrained(); got != "pids: the pids limit (16) refused 1 new process or thread" {
		t.Errorf("pids: %q", got)
	}
	if got := (limitHits{PidsRefused: 5}).constrained(); got != "pids: the pids limit refused 5 new processes or threads" {
		t.Errorf("pids without limit: %q", got)
	}
	if got := (limitHits{PidsLimit: 16}).constrained(); got != "" {
		t.Errorf("no refusal, yet %q", got)
	}
}
