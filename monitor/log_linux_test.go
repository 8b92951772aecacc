package monitor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLogWriterLeavesNoTornLineOnAFullDisk fills a 64 KiB tmpfs: the line
// that does not fit is cut back off, so the file holds whole lines only.
func TestLogWriterLeavesNoTornLineOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	defer unix.Unmount(dir, 0)
	w, err := OpenLog(filepath.Join(dir, "violations.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	written, failed := 0, 0
	for i := 0; i < 2000 && failed < 3; i++ {
		e := call(7, uint64(i))
		e.Syscall = "mount_with_a_long_name_so_that_lines_straddle_pages" // 260-odd bytes: not a divisor of 4096
		if err := w.Append(e, false); err != nil {
			failed++
			continue
		}
		written++
	}
	if failed == 0 {
		t.Fatal("the tmpfs never filled")
	}
	data, err := os.ReadFile(filepath.Join(dir, "violations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if !bytes.HasSuffix(data, []byte("\n")) || len(lines) != written || int64(len(data)) != w.Size() {
		t.Fatalf("%d lines in %d bytes (ends in newline: %v); %d appends succeeded, size %d", len(lines), len(data), bytes.HasSuffix(data, []byte("\n")), written, w.Size())
	}
	for _, l := range lines {
		if !json.Valid(l) {
			t.Fatalf("torn line %q", l)
		}
	}
}
