package monitor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatusFileIsUpdatedInPlace(t *testing.T) {
	dir := t.TempDir()
	s := &Status{Supervisor: Proc{Pid: 10, Start: 99}, Mode: Violations, Timeout: "2s"}
	f, err := CreateStatus(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s.Listener = &Proc{Pid: 11, Start: 100}
	s.Log = Counters{Calls: 5, Logged: 3, Lost: 2, WriteError: strings.Repeat("no space left on device ", 500)}
	s.Error = strings.Repeat("x", 10000)
	if err := f.Write(s); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, StatusName))
	if err != nil || st.Size() != statusSize {
		t.Fatalf("status file: %v, size %d; want %d bytes, always", err, st.Size(), statusSize)
	}
	got, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Listener == nil || *got.Listener != *s.Listener || got.Log.Lost != 2 || !strings.HasPrefix(got.Log.WriteError, "no space left") || got.Timeout != "2s" {
		t.Errorf("read back %+v", got)
	}
	if none, err := ReadStatus(t.TempDir()); none != nil || err != nil {
		t.Errorf("a directory without a status: %v, %v", none, err)
	}
}

func TestHealthSaysWhatNoLongerHolds(t *testing.T) {
	sup, lis := Proc{Pid: 10, Start: 1}, Proc{Pid: 11, Start: 2}
	states := func(m map[int]ProcState) func(Proc) ProcState {
		return func(p Proc) ProcState { return m[p.Pid] }
	}
	running := states(map[int]ProcState{10: ProcRunning, 11: ProcRunning})
	tests := []struct {
		name                      string
		s                         Status
		state                     func(Proc) ProcState
		stopped                   bool
		monitor, timeout, problem string // substrings; "" = exactly empty
	}{
		{name: "all well", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, Timeout: "60s"}, state: running,
			monitor: "violations", timeout: "60s"},
		{name: "finished: no liveness check", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, Finished: true},
			state: states(map[int]ProcState{10: ProcGone, 11: ProcGone}), monitor: "violations"},
		{name: "writes failed", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, Log: Counters{Lost: 332, WriteError: "write v: no space left on device"}},
			state: running, monitor: "violations; degraded: 332 calls answered but not logged (write v: no space left on device)", problem: "violation log degraded: 332"},
		{name: "listener killed, as the supervisor saw", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, ListenerLost: "the monitor process (pid 11) was killed by signal 9"},
			state: states(map[int]ProcState{10: ProcRunning, 11: ProcGone}), monitor: "violations; lost: the monitor process (pid 11) was killed", problem: "violation log lost"},
		{name: "both killed", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, Timeout: "60s"},
			state: states(map[int]ProcState{10: ProcGone, 11: ProcGone}), monitor: "violations; lost: the monitor process (pid 11) is gone",
			timeout: "60s; lost: the monitor process (pid 10) is gone", problem: "violation log lost"},
		{name: "supervisor stopped: the limit is suspended", s: Status{Supervisor: sup, Timeout: "2s"},
			state: states(map[int]ProcState{10: ProcStopped}), timeout: "2s; suspended", problem: "wall-clock limit 2s suspended"},
		{name: "stopped container: a supervisor gone does not matter, a lost listener does", s: Status{Supervisor: sup, Listener: &lis, Mode: Violations, Timeout: "60s"},
			state: states(map[int]ProcState{10: ProcGone, 11: ProcGone}), stopped: true, monitor: "violations; lost: the monitor process (pid 11) is gone", timeout: "60s", problem: "violation log lost"},
		{name: "stopped container without a listener", s: Status{Supervisor: sup, Timeout: "60s"},
			state: states(map[int]ProcState{10: ProcGone}), stopped: true, timeout: "60s"},
		{name: "gone before the plugin started", s: Status{Supervisor: sup, Mode: Violations},
			state: states(map[int]ProcState{10: ProcGone}), monitor: "violations; lost: the monitor process (pid 10) is gone before the plugin started", problem: "lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.s.Health(tt.state, tt.stopped)
			for _, c := range []struct{ got, want, what string }{{h.Monitor, tt.monitor, "Monitor"}, {h.Timeout, tt.timeout, "Timeout"}, {h.Problem, tt.problem, "Problem"}} {
				if (c.want == "" && c.got != "") || !strings.Contains(c.got, c.want) {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestRecordEndFirstCauseWins(t *testing.T) {
	dir := t.TempDir()
	if e, err := ReadEnd(dir); e != nil || err != nil {
		t.Fatalf("before any end: %v, %v", e, err)
	}
	first := End{Cause: CauseTimeout, Detail: "wall-clock limit 2s exceeded", Time: t0}
	if ok, err := RecordEnd(dir, first); !ok || err != nil {
		t.Fatalf("first record: %v, %v", ok, err)
	}
	if ok, err := RecordEnd(dir, End{Cause: "memory", Detail: "later", Time: t0.Add(time.Second)}); ok || err != nil {
		t.Fatalf("second record: %v, %v; want refused", ok, err)
	}
	e, err := ReadEnd(dir)
	if err != nil || e == nil || e.String() != "timeout: wall-clock limit 2s exceeded" {
		t.Fatalf("ReadEnd: %v, %v", e, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".ended-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
