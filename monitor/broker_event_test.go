package monitor

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plugbox/plugbox/broker"
)

func readAll(t *testing.T, data []byte) []Event {
	t.Helper()
	var out []Event
	r := NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event != nil {
			out = append(out, *rec.Event)
		}
	}
}

// TestBrokerRecordsInTheLog: broker records round-trip through the log,
// read as grants and refusals (not denials), with a line of their own.
func TestBrokerRecordsInTheLog(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(BrokerEvent("c1", broker.Record{Op: "open", Target: "/srv/in/a.png", Access: "read", Via: "socket", Granted: true, Rule: "broker.open[0]"}))
	enc.Encode(BrokerEvent("c1", broker.Record{Op: "connect", Target: "tcp:127.0.0.1:81", Via: "socket", Reason: "no rule names this destination"}))
	events := readAll(t, buf.Bytes())
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	if events[0].Action != ActionGranted || events[1].Action != ActionRefused {
		t.Errorf("actions %q, %q", events[0].Action, events[1].Action)
	}
	if got := events[0].String(); !strings.Contains(got, "c1 pid 0 broker open /srv/in/a.png (read) granted by broker.open[0] via socket") {
		t.Errorf("grant line %q", got)
	}
	if got := events[1].String(); !strings.HasSuffix(got, "broker connect tcp:127.0.0.1:81 refused via socket: no rule names this destination") {
		t.Errorf("refusal line %q", got)
	}
	s, err := Summarize(bytes.NewReader(buf.Bytes()))
	if err != nil || s.Denied != 0 || len(s.Names) != 0 {
		t.Errorf("broker records counted as violations: %+v %v", s, err)
	}
}

// TestRecorderKeepsBrokerTargetsApart: two opens from the same buffer of
// different paths are two lines, not a run of one; a flood of grants past
// the rate limit is counted in the dropped notice as the broker's, not as
// denials.
func TestRecorderKeepsBrokerTargetsApart(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenLog(dir+"/log", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := NewRecorder(w, Violations, "c1", Limits{MaxBytes: 1 << 20, Rate: 1, Burst: 3, Window: time.Second, MaxPending: 64}, now)
	call := func(target string) {
		e := Event{Time: now, Container: "c1", Pid: 7, Arch: "amd64", Syscall: "openat", Nr: 257, Args: []uint64{0, 0x1000}, Action: ActionGranted,
			Broker: &broker.Record{Op: "open", Target: target, Access: "read", Via: "seccomp", Granted: true}}
		rec.Call(e, now)
	}
	call("/srv/in/a.png")
	call("/srv/in/b.png")
	for i := 0; i < 20; i++ {
		call("/srv/in/f" + strings.Repeat("x", i) + ".png")
	}
	rec.Close(now.Add(2 * time.Second))
	w.Close()
	data, _ := os.ReadFile(dir + "/log")
	events := readAll(t, data)
	if len(events) < 2 || events[0].Broker.Target != "/srv/in/a.png" || events[1].Broker.Target != "/srv/in/b.png" {
		t.Fatalf("the first two lines: %+v", events)
	}
	s, err := Summarize(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if s.Denied != 0 || s.Allowed != 22 || s.Dropped == 0 {
		t.Errorf("summary %+v: want 22 allowed (some dropped), none denied", s)
	}
}
