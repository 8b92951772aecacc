package monitor

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
)

// MaxLineBytes is the longest line the reader decodes; the monitor's lines
// are a few hundred bytes, so a longer one is damage and is skipped.
const MaxLineBytes = 64 << 10

// Reader reads a violation log one record at a time in bounded memory,
// however large the log.
type Reader struct {
	br        *bufio.Reader
	offset    int64 // bytes of whole lines consumed
	malformed int
	partial   bool
	line      []byte
}

// NewReader reads the log in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, MaxLineBytes)}
}

// Offset is how many bytes of complete lines Next has consumed: where a
// reader following a growing log resumes.
func (r *Reader) Offset() int64 { return r.offset }

// Malformed is how many complete lines were not records (skipped).
func (r *Reader) Malformed() int { return r.malformed }

// Partial says whether the input ended in the middle of a line (a writer
// still busy, or a torn write); that line is not consumed.
func (r *Reader) Partial() bool { return r.partial }

// Line is the JSON line of the record Next last returned, newline included;
// it is valid until the next call.
func (r *Reader) Line() []byte { return r.line }

// rawLine decodes either kind of line in one pass.
type rawLine struct {
	Event
	Kind    string            `json:"notice"`
	Calls   map[string]uint64 `json:"calls"`
	Message string            `json:"message"`
}

// Next returns the next record, or io.EOF at the end of the complete lines.
func (r *Reader) Next() (Record, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			// Too long to be the monitor's: skip to its end.
			n := int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.br.ReadSlice('\n')
				n += int64(len(line))
			}
			if err != nil {
				r.partial = true
				return Record{}, r.end(err)
			}
			r.offset += n
			r.malformed++
			continue
		case err != nil:
			r.partial = len(line) > 0
			return Record{}, r.end(err)
		}
		r.offset += int64(len(line))
		var raw rawLine
		if json.Unmarshal(line, &raw) != nil || raw.Time.IsZero() {
			r.malformed++
			continue
		}
		r.line = line
		if raw.Kind != "" {
			return Record{Notice: &Notice{Time: raw.Time, Container: raw.Container, Kind: raw.Kind,
				Action: raw.Action, Count: raw.Count, Calls: raw.Calls, Message: raw.Message}}, nil
		}
		e := raw.Event
		return Record{Event: &e}, nil
	}
}

func (r *Reader) end(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// maxSummaryNames bounds the distinct names a Summary keeps.
const maxSummaryNames = 32

// Summary totals a log, in bounded memory.
type Summary struct {
	// Denied and Allowed count calls, repeats and dropped ones included;
	// Audited counts the allowed calls an audit action let run, and
	// AuditedNames names them (at most 32).
	Denied, Allowed, Audited uint64
	AuditedNames             []string
	// Names are the distinct denied calls, in first-seen order (at most
	// 32; More counts the others).
	Names []string
	More  int
	// Dropped counts calls only a "dropped" notice accounts for; Lost
	// counts calls a "lost" notice says were never written.
	Dropped, Lost uint64
	// MonitorDied is the message of a "monitor-died" notice, if any.
	MonitorDied string
	// Malformed counts lines that are not records; Partial says the log
	// ends inside a line.
	Malformed int
	Partial   bool
	// First and Last are the times of the first and last record.
	First, Last time.Time
}

// Summarize reads a whole log and totals it.
func Summarize(r io.Reader) (Summary, error) {
	var s Summary
	seen := map[string]bool{}
	rd := NewReader(r)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		s.add(rec, seen)
	}
	s.Malformed, s.Partial = rd.Malformed(), rd.Partial()
	return s, nil
}

func (s *Summary) add(rec Record, seen map[string]bool) {
	t := rec.time()
	if s.First.IsZero() {
		s.First = t
	}
	s.Last = t
	if n := rec.Notice; n != nil {
		switch n.Kind {
		case NoticeDropped:
			s.Dropped += n.Count
			if n.Action != "denied" {
				s.Allowed += n.Count
				break
			}
			s.Denied += n.Count
			for name, count := range n.Calls {
				if strings.HasPrefix(name, brokerDropPrefix) {
					// The broker's grants and refusals are no denials.
					s.Denied -= count
					s.Allowed += count
					continue
				}
				s.name(name, seen)
			}
		case NoticeLost:
			s.Lost += n.Count
		case NoticeMonitorDied:
			s.MonitorDied = n.Message
		}
		return
	}
	e := rec.Event
	if e.Action == ActionAudited {
		s.Audited += e.Calls()
		if len(s.AuditedNames) < maxSummaryNames && !slices.Contains(s.AuditedNames, e.Syscall) {
			s.AuditedNames = append(s.AuditedNames, e.Syscall)
		}
	}
	if e.Action != "denied" {
		s.Allowed += e.Calls()
		return
	}
	s.Denied += e.Calls()
	s.name(e.Syscall, seen)
}

func (s *Summary) name(name string, seen map[string]bool) {
	if seen[name] {
		return
	}
	if len(seen) >= 4096 {
		return // names come from a bounded table; this is damage
	}
	seen[name] = true
	if len(s.Names) >= maxSummaryNames {
		s.More++
		return
	}
	s.Names = append(s.Names, name)
}

func (r Record) time() time.Time {
	if r.Notice != nil {
		return r.Notice.Time
	}
	return r.Event.Time
}
