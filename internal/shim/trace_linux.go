package shim

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// traceSize is the trace file's size: the page the shim maps.
const traceSize = 4096

// traceStages names the shim's trace stages (the TRACE_* of shim.c): each
// record says that this step has just ended.
var traceStages = map[uint32]string{
	1: "shim: started, configuration read",
	2: "shim: plugin executable resolved",
	3: "shim: descriptors closed",
	4: "shim: Landlock applied",
	5: "shim: rlimits set",
	6: "shim: loading the filter, then execve",
}

// TraceRecord is one step of the shim, at CLOCK_MONOTONIC nanoseconds T.
type TraceRecord struct {
	T     int64
	Stage string
}

// TraceFile returns a memfd of one page for Config.TraceFD. It is not
// sealed: the shim writes its records through a shared mapping.
func TraceFile() (*os.File, error) {
	fd, err := unix.MemfdCreate("plugbox-shim-trace", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exec shim trace: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, traceSize); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("exec shim trace: %w", err)
	}
	return os.NewFile(uintptr(fd), "plugbox-shim-trace"), nil
}

// ReadTrace decodes the records the shim wrote to a TraceFile.
func ReadTrace(f *os.File) ([]TraceRecord, error) {
	buf := make([]byte, traceSize)
	n, err := f.ReadAt(buf, 0)
	if n < traceSize {
		return nil, fmt.Errorf("exec shim trace: read %d bytes: %v", n, err)
	}
	var out []TraceRecord
	for off := 0; off+16 <= len(buf); off += 16 {
		t := int64(binary.NativeEndian.Uint64(buf[off:]))
		stage := binary.NativeEndian.Uint32(buf[off+8:])
		if t == 0 {
			break
		}
		name, ok := traceStages[stage]
		if !ok {
			name = fmt.Sprintf("shim: stage %d", stage)
		}
		out = append(out, TraceRecord{T: t, Stage: name})
	}
	return out, nil
}
