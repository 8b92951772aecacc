package trace

import (
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// libcontainer's init process reports its progress as debug messages on a
// log pipe that the creating process reads and re-logs (logs.ForwardLogs):
// nsexec's C stages, then the Go side. The pipe carries no timestamps, so
// the init process stamps each of its Go messages with its own clock
// (InitHook), and the creating process stamps nsexec's on arrival (Hook),
// which follows their write by microseconds on an idle machine and by
// more under load (so an nsexec stage may appear after init's first).

// stampSep separates a message from the stamp InitHook appends.
const stampSep = " @t="

// Hook turns every log message of this process into an event: stamped
// messages of libcontainer's init at their own time, others (nsexec's,
// libcontainer's own) now.
type Hook struct{}

// Levels are all of them: a trace wants every stage.
func (Hook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire records the message as an event.
func (Hook) Fire(e *logrus.Entry) error {
	if !On() {
		return nil
	}
	Add(eventOf(e.Message, Now(), os.Getpid()))
	return nil
}

// eventOf parses a forwarded message: "MSG @t=T/PID" from InitHook, or
// nsexec's "nsexec-N[PID]: MSG".
func eventOf(msg string, now int64, self int) Event {
	if i := strings.LastIndex(msg, stampSep); i >= 0 {
		t, pid, ok := strings.Cut(msg[i+len(stampSep):], "/")
		tv, err1 := strconv.ParseInt(t, 10, 64)
		pv, err2 := strconv.Atoi(pid)
		if ok && err1 == nil && err2 == nil {
			return Event{T: tv, PID: pv, Stage: "init: " + msg[:i]}
		}
	}
	if strings.HasPrefix(msg, "nsexec") {
		if open := strings.IndexByte(msg, '['); open > 0 {
			if end := strings.Index(msg[open:], "]: "); end > 0 {
				pid, err := strconv.Atoi(msg[open+1 : open+end])
				if err == nil {
					return Event{T: now, PID: pid, Stage: msg[:open] + ": " + msg[open+end+3:]}
				}
			}
		}
	}
	return Event{T: now, PID: self, Stage: msg}
}

// InitHook stamps the debug messages of libcontainer's init process with
// their time and the process, for Hook in the creating process.
type InitHook struct{}

// Levels are the debug ones: warnings and errors reach the user unchanged.
func (InitHook) Levels() []logrus.Level { return []logrus.Level{logrus.DebugLevel, logrus.TraceLevel} }

// Fire appends the stamp to the message.
func (InitHook) Fire(e *logrus.Entry) error {
	e.Message = stamp(e.Message, Now(), os.Getpid())
	return nil
}

func stamp(msg string, t int64, pid int) string {
	return msg + stampSep + strconv.FormatInt(t, 10) + "/" + strconv.Itoa(pid)
}

// StartInit is called first in libcontainer's init process ("plugbox init",
// before libcontainer.Init): when the creating process traces (it passes
// the debug log level), it reports that the Go runtime and every package's
// init function are done and stamps libcontainer's later messages.
func StartInit() {
	if os.Getenv("_LIBCONTAINER_LOGLEVEL") != strconv.Itoa(int(logrus.DebugLevel)) {
		return
	}
	fd, err := strconv.Atoi(os.Getenv("_LIBCONTAINER_LOGPIPE"))
	if err != nil {
		return
	}
	line := `{"level":"debug","msg":"` + stamp("Go runtime and package init done (plugbox init)", Now(), os.Getpid()) + `"}` + "\n"
	_, _ = unix.Write(fd, []byte(line))
	logrus.AddHook(InitHook{})
}

// QuietDebug is a formatter that drops debug and trace messages: a trace
// needs libcontainer's debug messages (the log level is debug), the user
// asked only for the trace, not for debug output.
type QuietDebug struct{ logrus.Formatter }

// Format formats what is more severe than debug.
func (q QuietDebug) Format(e *logrus.Entry) ([]byte, error) {
	if e.Level >= logrus.DebugLevel {
		return nil, nil
	}
	return q.Formatter.Format(e)
}
