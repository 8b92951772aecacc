package trace

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestForwardedMessagesBecomeEventsAtTheirOwnTime(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Event
	}{
		// libcontainer's init, stamped by InitHook in that process.
		{stamp("child process in init()", 42, 1), Event{T: 42, PID: 1, Stage: "init: child process in init()"}},
		// nsexec's C stages carry the pid in brackets; stamped on arrival.
		{"nsexec-1[1234]: ~> nsexec stage-1", Event{T: 7, PID: 1234, Stage: "nsexec-1: ~> nsexec stage-1"}},
		// Anything else: this process, now.
		{"runc exeseal: using overlayfs for sealed /proc/self/exe", Event{T: 7, PID: 99, Stage: "runc exeseal: using overlayfs for sealed /proc/self/exe"}},
		// A malformed stamp is text, not a time.
		{"odd @t=x/y", Event{T: 7, PID: 99, Stage: "odd @t=x/y"}},
	} {
		if got := eventOf(tc.msg, 7, 99); got != tc.want {
			t.Errorf("eventOf(%q) = %+v, want %+v", tc.msg, got, tc.want)
		}
	}
}

func TestOffRecordsNothing(t *testing.T) {
	if On() {
		t.Skip("another test turned recording on")
	}
	Mark("ignored")
	Add(Event{T: 1, Stage: "ignored"})
	if n := len(Events()); n != 0 {
		t.Errorf("%d events recorded while off", n)
	}
}

func TestTheFileRoundTripsAndTheWaterfallIsInTimeOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace")
	if err := AppendFile(path, []Event{{T: 3_000_000, PID: 2, Stage: "late"}}); err != nil {
		t.Fatal(err)
	}
	if err := AppendFile(path, []Event{{T: 1_000_000, PID: 1, Stage: "early"}, {T: 1_500_000, PID: 1, Stage: "middle"}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteWaterfall(&buf, events); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"0.000     0.000       1  early", "0.500     0.500       1  middle", "2.000     1.500       2  late"}
	if len(lines) != 4 {
		t.Fatalf("waterfall:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i+1], w) {
			t.Errorf("line %d = %q, want it to end %q", i+1, lines[i+1], w)
		}
	}
}

func TestQuietDebugDropsOnlyDebugLines(t *testing.T) {
	var out bytes.Buffer
	log := logrus.New()
	log.SetOutput(&out)
	log.SetLevel(logrus.DebugLevel)
	log.SetFormatter(QuietDebug{Formatter: &logrus.TextFormatter{DisableColors: true, DisableTimestamp: true}})
	log.Debug("stage message")
	log.Warn("a warning")
	if s := out.String(); strings.Contains(s, "stage message") || !strings.Contains(s, "a warning") {
		t.Errorf("output %q: want the warning and not the debug line", s)
	}
}
