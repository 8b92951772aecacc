package monitor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plugbox/plugbox/broker"
)

// TestBrokerRecordsInTheLog: broker records round-trip through the log,
// read as grants and refusals (not denials), with a line of their own.
func TestBrokerRecordsInTheLog(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(BrokerEvent("c1", broker.Record{Op: "open", Target: "/srv/in/a.png", Access: "read", Via: "socket", Granted: true, Rule: "broker.open[0]"}))
	enc.Encode(BrokerEvent("c1", broker.Record{Op: "connect", Target: "tcp:127.0.0.1:81", Via: "socket", Reason: "no rule names this destination"}))
	events, err := ReadLog(&buf)
	if err != nil || len(events) != 2 {
		t.Fatalf("ReadLog: %d events, %v", len(events), err)
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
	if names, total := Summary(events); len(names) != 0 || total != 0 {
		t.Errorf("broker records counted as violations: %v %d", names, total)
	}
}
