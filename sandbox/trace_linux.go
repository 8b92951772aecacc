package sandbox

import (
	"os"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/plugbox/plugbox/internal/shim"
	"github.com/plugbox/plugbox/internal/trace"
)

// What the backend adds to plugbox's start-up trace (internal/trace):
// libcontainer's init process gets this process's log level, so that its
// debug messages (nsexec's stages, the Go side's) come back on its log pipe
// only when this process traces or debugs; and the exec shim gets a page
// to note its steps in (shimplan), read once the plugin has exited.

// initLogLevel is libcontainer's Process.LogLevel: this process's level.
// Unset, nsexec writes every debug message, and this process decodes each
// one only to drop it.
func initLogLevel() string { return strconv.Itoa(int(logrus.GetLevel())) }

// markShimTrace adds the steps the shim noted in f to the trace and
// closes f; f may be nil.
func markShimTrace(f *os.File, pid int) {
	if f == nil {
		return
	}
	defer f.Close()
	records, err := shim.ReadTrace(f)
	if err != nil {
		trace.Mark("shim trace unreadable: " + err.Error())
		return
	}
	for _, r := range records {
		trace.Add(trace.Event{T: r.T, PID: pid, Stage: r.Stage})
	}
}
