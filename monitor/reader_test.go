package monitor

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func line(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data) + "\n"
}

func TestReaderSkipsWhatIsNotARecord(t *testing.T) {
	ev := line(t, call(7, 1))
	rep := call(7, 1)
	rep.Count = 41
	repeats := line(t, rep)
	notice := line(t, Notice{Time: t0, Container: "c", Kind: NoticeDropped, Action: "denied", Count: 5, Calls: map[string]uint64{"mount": 5}, Message: "m"})
	long := `{"time":"2026-12-01T12:00:00Z","x":"` + strings.Repeat("a", MaxLineBytes+100) + "\"}\n"
	tests := []struct {
		name              string
		in                string
		events, notices   int
		malformed         int
		partial           bool
		offset            int
		calls             uint64 // the events stand for
		droppedInNotices  uint64
		wantOffsetAtLines bool
	}{
		{name: "whole lines", in: ev + repeats + notice, events: 2, notices: 1, offset: len(ev + repeats + notice), calls: 42, droppedInNotices: 5},
		{name: "a torn last line is not consumed", in: ev + ev[:30], events: 1, partial: true, offset: len(ev), calls: 1},
		{name: "a torn line in the middle is skipped", in: ev[:30] + "\n" + ev, events: 1, malformed: 1, offset: 31 + len(ev), calls: 1},
		{name: "garbage, an empty line and a line without a time", in: "not json\n\n{}\n" + ev, events: 1, malformed: 3, offset: 13 + len(ev), calls: 1},
		{name: "a line longer than any the monitor writes", in: ev + long + ev, events: 2, malformed: 1, offset: len(ev + long + ev), calls: 2},
		{name: "a long unterminated line at the end", in: ev + long[:len(long)-1], events: 1, partial: true, offset: len(ev), calls: 1},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(tt.in))
			var events, notices int
			var calls, dropped uint64
			for {
				rec, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec.Notice != nil {
					notices++
					dropped += rec.Notice.Count
					continue
				}
				events++
				calls += rec.Event.Calls()
				if !bytes.HasSuffix(rd.Line(), []byte("\n")) {
					t.Errorf("Line() = %q, want the whole line", rd.Line())
				}
			}
			if events != tt.events || notices != tt.notices || rd.Malformed() != tt.malformed || rd.Partial() != tt.partial || rd.Offset() != int64(tt.offset) || calls != tt.calls || dropped != tt.droppedInNotices {
				t.Errorf("events %d notices %d malformed %d partial %v offset %d calls %d dropped %d; want %d %d %d %v %d %d %d",
					events, notices, rd.Malformed(), rd.Partial(), rd.Offset(), calls, dropped,
					tt.events, tt.notices, tt.malformed, tt.partial, tt.offset, tt.calls, tt.droppedInNotices)
			}
		})
	}
}

// TestReaderResumesAtOffset is what violations --follow does: a line the
// writer is still writing is read once it is complete.
func TestReaderResumesAtOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	first, second := line(t, call(7, 1)), line(t, call(7, 2))
	if err := os.WriteFile(path, []byte(first+second[:20]), 0o600); err != nil {
		t.Fatal(err)
	}
	readFrom := func(offset int64) ([]Event, int64) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rd := NewReader(f)
		var out []Event
		for {
			rec, err := rd.Next()
			if err != nil {
				break
			}
			out = append(out, *rec.Event)
		}
		return out, offset + rd.Offset()
	}
	got, offset := readFrom(0)
	if len(got) != 1 || offset != int64(len(first)) {
		t.Fatalf("first read: %d events, offset %d", len(got), offset)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(second[20:])
	f.Close()
	got, offset = readFrom(offset)
	if len(got) != 1 || got[0].Args[4] != 2 || offset != int64(len(first+second)) {
		t.Fatalf("second read: %+v, offset %d", got, offset)
	}
}

// repeatReader yields line n times without holding more than one copy.
type repeatReader struct {
	line []byte
	n    int
	pos  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.line[r.pos:])
	r.pos += k
	if r.pos == len(r.line) {
		r.pos = 0
		r.n--
	}
	return k, nil
}

// TestSummarizeLargeLogInBoundedMemory: the CLI once read the whole log
// (1 GiB of memory for a 191 MB log) to print one line.
func TestSummarizeLargeLogInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 24 MB")
	}
	l := []byte(line(t, call(7, 1)))
	n := (24 << 20) / len(l)
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	s, err := Summarize(&repeatReader{line: l, n: n})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if s.Denied != uint64(n) || len(s.Names) != 1 || s.Names[0] != "mount" {
		t.Errorf("summary %+v, want %d denied mount calls", s, n)
	}
	if p := peak.Load(); p > 16<<20 {
		t.Errorf("heap in use peaked at %d MiB reading a 24 MiB log", p>>20)
	}
}

func TestSummarizeCountsEveryKindOfLine(t *testing.T) {
	rep := call(7, 1)
	rep.Count = 9
	ptrace := call(8, 0)
	ptrace.Syscall = "ptrace"
	in := line(t, call(7, 1)) + line(t, rep) + line(t, ptrace) +
		line(t, Notice{Time: t0, Container: "c", Kind: NoticeDropped, Action: "denied", Count: 100, Calls: map[string]uint64{"mount": 90, "chroot": 10}, Message: "m"}) +
		line(t, Notice{Time: t0, Container: "c", Kind: NoticeLost, Action: "denied", Count: 3, Message: "no space"}) +
		line(t, Notice{Time: t0, Container: "c", Kind: NoticeMonitorDied, Message: "killed"}) + "torn"
	s, err := Summarize(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Denied != 1+9+1+100 || s.Dropped != 100 || s.Lost != 3 || s.MonitorDied != "killed" || !s.Partial ||
		strings.Join(s.Names, ",") != "mount,ptrace,chroot" {
		t.Errorf("summary %+v", s)
	}
}
