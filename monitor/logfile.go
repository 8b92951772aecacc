package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The violation log by path: what "plugbox violations", run's summary and
// its --status-file read. A log that does not exist is empty: nothing was
// denied (yet), or the container has no monitor.

// PrintLog writes the complete records of the log at path from byte offset
// on to w, as the JSON lines they are (asJSON) or as text lines, one record
// at a time. It returns the offset after them, where a follower resumes,
// and how many lines were not records.
func PrintLog(w io.Writer, path string, offset int64, asJSON bool) (next int64, malformed int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return offset, 0, nil
	}
	if err != nil {
		return offset, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, 0, err
	}
	rd := NewReader(f)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return offset + rd.Offset(), rd.Malformed(), fmt.Errorf("read %s: %w", path, err)
		}
		if asJSON {
			_, err = w.Write(rd.Line())
		} else {
			_, err = fmt.Fprintln(w, rec)
		}
		if err != nil {
			return offset + rd.Offset(), rd.Malformed(), err
		}
	}
	return offset + rd.Offset(), rd.Malformed(), nil
}

// SummarizeFile totals the log at path (see Summarize).
func SummarizeFile(path string) (Summary, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Summary{}, nil
	}
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	return Summarize(f)
}

// NameList names the distinct denied calls for a person: "a, b and 3 more".
func (s Summary) NameList() string {
	names := strings.Join(s.Names, ", ")
	if s.More > 0 {
		names += fmt.Sprintf(" and %d more", s.More)
	}
	return names
}

// Denied is every denied call a log records, and what it does not.
type Denied struct {
	// Events are the denied calls, runs of identical ones aggregated
	// (Event.Count), in the log's order.
	Events []Event
	// Dropped counts denied calls only a "dropped" notice accounts for
	// (the log's rate or size limit); Lost counts calls a "lost" notice
	// says were never written; Malformed counts damaged lines.
	Dropped, Lost uint64
	Malformed     int
}

// ReadDenied reads the denied calls of the log at path, one record at a
// time; the log's own bounds bound what it returns.
func ReadDenied(path string) (Denied, error) {
	var d Denied
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	defer f.Close()
	rd := NewReader(f)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return d, fmt.Errorf("read %s: %w", path, err)
		}
		if n := rec.Notice; n != nil {
			switch n.Kind {
			case NoticeDropped:
				if n.Action == "denied" {
					d.Dropped += n.Count
				}
			case NoticeLost:
				d.Lost += n.Count
			}
			continue
		}
		if rec.Event.Action == "denied" {
			d.Events = append(d.Events, *rec.Event)
		}
	}
	d.Malformed = rd.Malformed()
	return d, nil
}

// Incomplete says in one line why Events may miss denied calls, or "".
func (d Denied) Incomplete() string {
	var notes []string
	if d.Dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d denied call(s) only counted, beyond the log's rate or size limit", d.Dropped))
	}
	if d.Lost > 0 {
		notes = append(notes, fmt.Sprintf("%d call(s) never written", d.Lost))
	}
	if d.Malformed > 0 {
		notes = append(notes, fmt.Sprintf("%d damaged line(s) skipped", d.Malformed))
	}
	return strings.Join(notes, "; ")
}
