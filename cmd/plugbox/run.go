package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/sandbox"
)

// runCommand is runc's "run": create then start; in the foreground it waits
// and exits with the process's status (128+N when killed by signal N), then
// deletes the container unless --keep.
var runCommand = &cli.Command{
	Name:        "run",
	Usage:       "create and start a container, and wait for it unless --detach",
	ArgsUsage:   "ID",
	Description: holdHelp + "\n\n   " + statusHelp,
	Flags: append([]cli.Flag{
		bundleFlag,
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the stopped container (foreground only); delete it later"},
		&cli.StringFlag{Name: "console-socket", Usage: "with --detach: AF_UNIX socket that receives the pty master"},
		holdFlag,
		statusFileFlag,
	}, createFlags...),
	Action: func(ctx *cli.Context) error {
		rec, err := newStatusRecorder(ctx)
		if err != nil {
			return err
		}
		return rec.finish(runContainer(ctx, rec))
	},
}

// runContainer is run's work; rec, when not nil, records how it ended.
func runContainer(ctx *cli.Context, rec *statusRecorder) error {
	foreground := !ctx.Bool("detach")
	hold, err := openHold(ctx)
	if err != nil {
		return err
	}
	defer hold.close()
	c, ann, err := createContainer(ctx, foreground)
	if err != nil {
		return err
	}
	if hold != nil && !hold.created() {
		// The caller let go before the start: nothing ran.
		return c.Delete(true)
	}
	if err := c.Start(); err != nil {
		_ = c.Delete(true)
		return err
	}
	if !foreground {
		return nil
	}
	var end killReason
	kill := func(reason, detail string) {
		end.set(reason, detail)
		if rec == nil {
			fmt.Fprintf(os.Stderr, "plugbox: %s: %s: killing the plugin\n", c.ID(), detail)
		}
		_ = c.Signal(syscall.SIGKILL, true)
	}
	stopWatch := func() {}
	if hold != nil {
		hold.started()
		stopWatch = hold.watch(func() { kill(reasonCancelled, "the --hold-fd caller closed its end") })
	}
	stopTimer := enforceTimeout(ann.Timeout, kill)
	status, err := c.Wait()
	stopTimer()
	stopWatch()
	if err == nil {
		err = recordEnd(ctx, rec, c.ID(), status, &end)
		if rec == nil {
			reportConstrained(c)
		}
	}
	if !ctx.Bool("keep") {
		if derr := c.Delete(true); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil {
		return err
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// killReason is why plugbox killed the plugin, set at most once.
type killReason struct {
	mu             sync.Mutex
	reason, detail string
}

func (k *killReason) set(reason, detail string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.reason == "" {
		k.reason, k.detail = reason, detail
	}
}

func (k *killReason) get() (reason, detail string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason, k.detail
}

// recordEnd reports how the plugin ended: to --status-file when rec is set,
// else as lines on stderr (reportMonitor).
func recordEnd(ctx *cli.Context, rec *statusRecorder, id string, status int, end *killReason) error {
	if rec == nil {
		reportMonitor(ctx, id)
		return nil
	}
	root := ctx.String("root")
	var notes []string
	report, err := sandbox.ReadMonitorReport(root, id, true)
	if err != nil {
		notes = append(notes, err.Error())
	}
	reason, detail := end.get()
	switch {
	case reason != "":
	case report.End != nil && report.End.Cause == monitor.CauseTimeout:
		reason, detail = reasonTimeout, report.End.Detail
	case status > 128:
		reason = reasonSignaled
	default:
		reason = reasonExited
	}
	denied, err := monitor.ReadDenied(sandbox.ViolationLog(root, id))
	if err != nil {
		notes = append(notes, "violation log: "+err.Error())
	}
	if incomplete := denied.Incomplete(); incomplete != "" {
		notes = append(notes, incomplete)
	}
	if report.Problem != "" {
		notes = append(notes, report.Problem)
	}
	return rec.ended(status, reason, detail, denied.Events, strings.Join(notes, "; "))
}

// reportConstrained prints which limit refused the plugin something
// without ending it (the pids limit refusing forks), as state records it.
func reportConstrained(c sandbox.Container) {
	st, err := c.State()
	if err != nil {
		return
	}
	if v := st.Annotations[sandbox.AnnotationConstrained]; v != "" {
		_, detail, _ := strings.Cut(v, ": ")
		fmt.Fprintf(os.Stderr, "plugbox: %s: %s\n", c.ID(), detail)
	}
}

// reportMonitor prints, after a foreground run, what the container's
// monitor process knows: which limit ended the plugin, a one-line summary of
// the calls the seccomp profile denied, and a warning when the violation log
// is incomplete. It streams the log, whatever its size.
func reportMonitor(ctx *cli.Context, id string) {
	root := ctx.String("root")
	report, err := sandbox.ReadMonitorReport(root, id, true)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: %s: warning: %v\n", id, err)
	}
	switch {
	case report.End == nil:
	case report.End.Cause == monitor.CauseMemory:
		// The detail says what the OOM killer killed.
		fmt.Fprintf(os.Stderr, "plugbox: %s: %s\n", id, report.End.Detail)
	default:
		fmt.Fprintf(os.Stderr, "plugbox: %s: %s: the plugin was killed\n", id, report.End.Detail)
	}
	s, err := monitor.SummarizeFile(sandbox.ViolationLog(root, id))
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: %s: warning: read the violation log: %v\n", id, err)
	}
	if s.Denied > 0 {
		counted := ""
		if s.Dropped > 0 {
			counted = fmt.Sprintf("; %d of them only counted, beyond the log's rate or size limit", s.Dropped)
		}
		where := "rerun with --keep, then 'plugbox violations " + id + "'"
		if ctx.Bool("keep") {
			where = "'plugbox violations " + id + "'"
		}
		fmt.Fprintf(os.Stderr, "plugbox: %s: seccomp denied %d system call(s): %s (details: %s%s)\n", id, s.Denied, s.NameList(), where, counted)
	}
	if s.Audited > 0 {
		fmt.Fprintf(os.Stderr, "plugbox: %s: seccomp audit: %d call(s) the profile does not allow ran: %s (plugbox violations %s)\n", id, s.Audited, strings.Join(s.AuditedNames, ", "), id)
	}
	if report.Problem != "" {
		fmt.Fprintf(os.Stderr, "plugbox: %s: warning: %s\n", id, report.Problem)
	}
}

// enforceTimeout is a backstop for the wall-clock limit (annotation
// org.plugbox.timeout, or --timeout; 0: none): where the backend's monitor
// process enforces it (Linux), it calls kill timeoutBackstop later, only if
// that process failed to. It returns the function that cancels the timer.
func enforceTimeout(limit time.Duration, kill func(reason, detail string)) (stop func()) {
	if limit <= 0 {
		return func() {}
	}
	timer := time.AfterFunc(limit+timeoutBackstop, func() {
		detail := fmt.Sprintf("wall-clock limit %s exceeded", limit)
		if timeoutBackstop > 0 {
			detail += " and the sandbox did not stop the plugin"
		}
		kill(reasonTimeout, detail)
	})
	return func() { timer.Stop() }
}
