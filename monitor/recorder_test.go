package monitor

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// call is the mount(2) call of pid with last argument arg.
func call(pid uint32, arg uint64) Event {
	return Event{Time: t0, Container: "c", Pid: pid, Arch: "amd64", Syscall: "mount", Nr: 165, Args: []uint64{0, 0, 0, 0, arg, 0}, Action: "denied"}
}

func openTestLog(t *testing.T, max int64) *LogWriter {
	t.Helper()
	w, err := OpenLog(filepath.Join(t.TempDir(), "violations.jsonl"), max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// records reads back everything w wrote.
func records(t *testing.T, w *LogWriter) (events []Event, notices []Notice) {
	t.Helper()
	f, err := os.Open(w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := NewReader(f)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Notice != nil {
			notices = append(notices, *rec.Notice)
		} else {
			events = append(events, *rec.Event)
		}
	}
	if rd.Malformed() != 0 || rd.Partial() {
		t.Fatalf("log has %d malformed lines, partial %v", rd.Malformed(), rd.Partial())
	}
	return events, notices
}

// accounted sums the calls the lines and notices of a log stand for.
func accounted(events []Event, notices []Notice) (logged, dropped, lost uint64) {
	for _, e := range events {
		logged += e.Calls()
	}
	for _, n := range notices {
		switch n.Kind {
		case NoticeDropped:
			dropped += n.Count
		case NoticeLost:
			lost += n.Count
		}
	}
	return logged, dropped, lost
}

func TestRecorderBoundsWhatAFloodWrites(t *testing.T) {
	limits := Limits{MaxBytes: 1 << 20, Rate: 5, Burst: 10, Window: time.Second, MaxPending: 64}
	tests := []struct {
		name     string
		mode     Mode
		limits   Limits
		feed     func(r *Recorder) time.Time // makes the calls, ticking as the monitor does; returns the end
		lines    int                         // call lines written
		maxLines int                         // or at most this many (lines 0)
		dropped  uint64
		maxBytes int64
		why      string // in the dropped notice
	}{
		{
			name: "one call 10000 times in a window: its line and one count",
			feed: func(r *Recorder) time.Time {
				for i := 0; i < 10000; i++ {
					r.Call(call(7, 0), t0.Add(time.Duration(i)*time.Microsecond))
				}
				return t0.Add(100 * time.Millisecond)
			},
			lines: 2,
		},
		{
			name: "one call for 3.5s: a count per window",
			feed: func(r *Recorder) time.Time {
				now := t0
				for i := 0; i < 3500; i++ {
					now = t0.Add(time.Duration(i) * time.Millisecond)
					r.Call(call(7, 0), now)
					if i%250 == 0 {
						r.Tick(now)
					}
				}
				return now
			},
			lines: 5, // the first call, then counts at about 1s, 2s, 3s and the rest at close
		},
		{
			name: "a call again after a quiet window gets a line of its own",
			feed: func(r *Recorder) time.Time {
				r.Call(call(7, 0), t0)
				r.Tick(t0.Add(1500 * time.Millisecond))
				r.Call(call(7, 0), t0.Add(2*time.Second))
				return t0.Add(2 * time.Second)
			},
			lines: 2,
		},
		{
			name: "100 distinct calls at once: the burst is written, the rest counted",
			feed: func(r *Recorder) time.Time {
				for i := 0; i < 100; i++ {
					r.Call(call(7, uint64(i)), t0)
				}
				return t0
			},
			lines:   10,
			dropped: 90,
			why:     "more than 5 lines/s",
		},
		{
			name: "distinct calls for 2s: the burst, then the rate",
			feed: func(r *Recorder) time.Time {
				now := t0
				for i := 0; i < 2000; i++ {
					now = t0.Add(time.Duration(i) * time.Millisecond)
					r.Call(call(7, uint64(i)), now)
					if i%250 == 0 {
						r.Tick(now)
					}
				}
				return now
			},
			lines:   10 + 9, // 10 at once, then 5/s for 1.999s
			dropped: 2000 - 19,
			why:     "more than 5 lines/s",
		},
		{
			name:   "learning mode writes every distinct call, whoever makes it, once",
			mode:   Learning,
			limits: Limits{MaxBytes: 1 << 20, Rate: 1, Burst: 1, Window: time.Second, MaxPending: 64},
			feed: func(r *Recorder) time.Time {
				for i := 0; i < 300; i++ {
					e := call(uint32(100+i%7), uint64(i%30))
					e.Action = "allowed"
					r.Call(e, t0)
				}
				return t0
			},
			lines: 30 + 30, // each distinct call, and its count at close
		},
		{
			name:   "cycling through more distinct calls than are counted at once stays under the rate limit",
			limits: Limits{MaxBytes: 1 << 20, Rate: 5, Burst: 10, Window: time.Second, MaxPending: 4},
			feed: func(r *Recorder) time.Time {
				for i := 0; i < 1000; i++ {
					r.Call(call(7, uint64(i%50)), t0)
					r.Call(call(7, uint64(i%50)), t0)
				}
				return t0
			},
			maxLines: 10 + 4, // the burst, and the counts still pending at close
			why:      "more than 5 lines/s",
		},
		{
			name:   "the size cap: calls past it are counted, and the notice still fits",
			limits: Limits{MaxBytes: 16 << 10, Rate: 1e9, Burst: 1e6, Window: time.Second, MaxPending: 4096},
			feed: func(r *Recorder) time.Time {
				for i := 0; i < 1000; i++ {
					r.Call(call(7, uint64(i)), t0)
				}
				return t0
			},
			lines:    -1, // as many as fit
			maxBytes: 16 << 10,
			why:      "log size cap 16384 bytes reached",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limits
			if l == (Limits{}) {
				l = limits
			}
			mode := tt.mode
			if mode == "" {
				mode = Violations
			}
			w := openTestLog(t, l.MaxBytes)
			r := NewRecorder(w, mode, "c", l, t0)
			end := tt.feed(r)
			r.Close(end)
			events, notices := records(t, w)
			c := r.Counters()
			logged, dropped, lost := accounted(events, notices)
			if c.Calls != logged+dropped+lost || c.Logged != logged || c.Dropped != dropped || c.Lost != lost {
				t.Errorf("counters %+v; the log accounts for logged %d dropped %d lost %d", c, logged, dropped, lost)
			}
			if tt.maxLines > 0 {
				if len(events) > tt.maxLines {
					t.Errorf("%d call lines, want at most %d", len(events), tt.maxLines)
				}
			} else if tt.lines >= 0 && len(events) != tt.lines {
				t.Errorf("%d call lines, want %d", len(events), tt.lines)
			}
			if tt.lines < 0 && dropped == 0 {
				t.Errorf("nothing dropped at the cap: %d lines", len(events))
			}
			if tt.dropped > 0 && dropped != tt.dropped {
				t.Errorf("dropped %d, want %d", dropped, tt.dropped)
			}
			if tt.maxBytes > 0 && w.Size() > tt.maxBytes {
				t.Errorf("log is %d bytes, cap %d", w.Size(), tt.maxBytes)
			}
			if tt.why != "" {
				var mounts uint64
				for _, n := range notices {
					mounts += n.Calls["mount"]
				}
				if len(notices) == 0 || !strings.Contains(notices[len(notices)-1].Message, tt.why) || mounts != dropped {
					t.Errorf("notices %+v, want them saying %q and counting %d mount calls", notices, tt.why, dropped)
				}
				// One notice per window at most, and one at the end.
				if max := int(end.Sub(t0)/l.Window) + 2; len(notices) > max {
					t.Errorf("%d notices, want at most %d", len(notices), max)
				}
			}
		})
	}
}

func TestRecorderRetractedCallsAreNotCountedTwice(t *testing.T) {
	w := openTestLog(t, 1<<20)
	r := NewRecorder(w, Violations, "c", DefaultLimits, t0)
	// The first call is written, then interrupted before its answer: the
	// kernel makes it again, and that retry is the call the line stands for.
	r.Call(call(7, 0), t0)
	r.Retract()
	r.Call(call(7, 0), t0)
	// A repeat interrupted likewise.
	r.Call(call(7, 0), t0)
	r.Retract()
	r.Call(call(7, 0), t0)
	r.Call(call(7, 0), t0)
	r.Close(t0)
	events, notices := records(t, w)
	logged, _, _ := accounted(events, notices)
	if c := r.Counters(); c.Calls != 3 || c.Logged != 3 || logged != 3 {
		t.Errorf("counters %+v, log accounts for %d calls; the plugin made 3", c, logged)
	}
}

func TestRecorderCountsWhatItCannotWrite(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	w := &LogWriter{f: full, path: "/dev/full"}
	r := NewRecorder(w, Violations, "c", DefaultLimits, t0)
	for i := 0; i < 50; i++ {
		r.Call(call(7, uint64(i%5)), t0)
	}
	r.Tick(t0.Add(2 * time.Second))
	r.Close(t0.Add(2 * time.Second))
	c := r.Counters()
	if c.Calls != 50 || c.Lost != 50 || c.Logged != 0 || !strings.Contains(c.WriteError, "no space left on device") {
		t.Errorf("counters %+v: want every call lost, and why", c)
	}
}
