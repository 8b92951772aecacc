package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLogFull means a call record would take the log past its size cap; the
// call is counted in a "dropped" notice instead.
var ErrLogFull = errors.New("violation log reached its size cap")

// noticeReserve is the part of the size cap kept for notices, so that the
// line saying how many calls were dropped still fits once the cap is hit.
const noticeReserve = 8 << 10

// LogWriter appends whole lines to the violation log and never leaves a torn
// one: a short or failed write is cut back off the file. Several may append
// to one log (the monitors of the container's init and of processes exec'd
// into it): each line is written under an exclusive flock, which also makes
// the size cap hold for the file, not for each writer.
type LogWriter struct {
	f    *os.File
	path string
	size int64 // bytes of whole lines in the file
	max  int64
	// torn is set when a partial line could not be cut off; the next line
	// starts with a newline, so the reader sees one malformed line (and
	// counts it) instead of gluing two together.
	torn bool
	// openErr, when set, is returned by every Append: the log could not be
	// opened, and every call is counted as lost.
	openErr error
}

// OpenLog opens (creating, mode 0600) the log at path for appending, capped
// at max bytes. It does not follow a symbolic link at path.
func OpenLog(path string, max int64) (*LogWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open violation log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("violation log: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("violation log %s is not a regular file", path)
	}
	return &LogWriter{f: f, path: path, size: st.Size(), max: max}, nil
}

// brokenLog is a LogWriter whose every Append fails with err.
func brokenLog(path string, err error) *LogWriter {
	return &LogWriter{path: path, openErr: err}
}

// Size is the length of the log in bytes.
func (w *LogWriter) Size() int64 { return w.size }

// Close closes the file.
func (w *LogWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// Append writes v as one JSON line. A call record (notice false) must leave
// room for notices under the cap, else ErrLogFull; a notice may use it.
// Any other error means nothing of the line remains in the file (unless the
// cut-back itself failed, which the next line repairs).
func (w *LogWriter) Append(v any, notice bool) error {
	if w.openErr != nil {
		return w.openErr
	}
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if w.torn {
		line = append([]byte{'\n'}, line...)
	}
	fd := int(w.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", w.path, err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	if st, err := w.f.Stat(); err == nil {
		w.size = st.Size()
	}
	limit := w.max - noticeReserve
	if notice {
		limit = w.max
	}
	if w.max > 0 && w.size+int64(len(line)) > limit {
		return ErrLogFull
	}
	n, err := w.f.Write(line)
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // named with the path below
	}
	if err == nil && n == len(line) {
		w.size += int64(n)
		w.torn = false
		return nil
	}
	if err == nil {
		err = errors.New("short write")
	}
	if n > 0 {
		if terr := w.f.Truncate(w.size); terr != nil {
			w.size += int64(n)
			w.torn = true
		}
	}
	return fmt.Errorf("write %s: %w", w.path, err)
}
