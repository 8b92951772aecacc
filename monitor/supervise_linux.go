package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/plugbox/plugbox/internal/trace"
	"golang.org/x/sys/unix"
)

// supervisor is the state of the supervisor's event loop.
type supervisor struct {
	cfg     Config
	cgroups Cgroups
	status  Status
	file    *StatusFile
	self    int

	initFD   int      // pidfd of the container's init, -1 once it exited
	parentFD int      // pidfd of the CLI to die with, -1 if none
	socket   *os.File // the shim's socket, until handed to the listener's process
	broker   *os.File // the broker's explicit socket, likewise (nil: none)
	awaiting bool     // StartFile is looked for until the start
	deadline time.Time

	child       *exec.Cmd // the listener's process, nil when none runs
	childFD     int       // its pidfd
	childPipe   int       // read end of its counters pipe (non-blocking)
	childBuf    []byte
	stoppedAt   time.Time
	killReason  string
	killing     time.Time // the container is being killed since then
	initExitAt  time.Time
	initExited  bool
	lastWritten Status
}

// supervise runs the supervisor until the container's processes are gone
// and the listener's process has finished.
func supervise(cfg Config) error {
	// What it inherited must not reach the listener's process.
	for _, fd := range []int{cfg.ControlFD, cfg.ParentFD, cfg.SocketFD, cfg.BrokerFD} {
		if fd >= 0 {
			unix.CloseOnExec(fd)
		}
	}
	ctl := cfg.ControlFD
	s := &supervisor{cfg: cfg, initFD: -1, parentFD: cfg.ParentFD, childFD: -1, childPipe: -1}
	killChild := func() {
		if s.child != nil {
			_ = s.child.Process.Kill()
			_ = s.child.Wait()
		}
	}
	fail := func(err error) error {
		killChild()
		_, _ = unix.Write(ctl, []byte("error: "+err.Error()))
		unix.Close(ctl)
		return errSaid // the starter says it
	}
	self, err := Self()
	if err != nil {
		return fail(err)
	}
	s.self = self.Pid
	s.status = Status{Supervisor: self, Mode: cfg.Mode}
	if cfg.Timeout > 0 {
		s.status.Timeout = cfg.Timeout.String()
	}
	if cfg.Mode != "" {
		// The log exists from create on: a full file system fails the
		// create instead of every later line.
		w, err := OpenLog(cfg.Log, cfg.Limits.MaxBytes)
		if err != nil {
			return fail(err)
		}
		w.Close()
		// The listener's process starts first, so that its start overlaps
		// the cgroup moves (it is moved with the supervisor).
		s.socket = os.NewFile(uintptr(cfg.SocketFD), "monitor-socket")
		if cfg.BrokerFD >= 0 {
			s.broker = os.NewFile(uintptr(cfg.BrokerFD), "broker-socket")
		}
		s.spawnListener()
	}
	// Now the container: its init and its cgroups, once libcontainer has
	// made them.
	att, initFD, err := receiveAttachment(ctl)
	if err != nil {
		killChild()
		if errors.Is(err, errNoAttachment) {
			return nil // the container was never made
		}
		return fail(err)
	}
	s.initFD, s.cgroups = initFD, att.Cgroups
	pids := []int{self.Pid}
	if s.child != nil {
		pids = append(pids, s.child.Process.Pid)
	}
	if err := joinCgroups(att.Cgroups.Join, pids...); err != nil {
		if cfg.MustJoin {
			return fail(err)
		}
		s.status.Uncharged = err.Error()
	}
	if cfg.Timeout > 0 {
		if err := s.watchStart(); err != nil {
			return fail(err)
		}
	}
	name := StatusName
	if cfg.Exec {
		name = fmt.Sprintf("%s%d.status", ExecStatusPrefix, self.Pid)
	}
	if s.file, err = createStatus(cfg.Dir, name, &s.status); err != nil {
		return fail(err)
	}
	s.lastWritten = s.status
	_, _ = unix.Write(ctl, []byte("ok"))
	unix.Close(ctl)
	s.loop()
	s.status.Finished = true
	s.writeStatus()
	trace.Mark("monitor: supervisor done, status written")
	return nil
}

// errNoAttachment: the starter went away before it attached a container.
var errNoAttachment = errors.New("no container was attached")

// receiveAttachment waits for Attach's message and the init's pidfd.
func receiveAttachment(ctl int) (attachment, int, error) {
	var att attachment
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(ctl, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return att, -1, fmt.Errorf("receive the container: %w", err)
		}
		if n == 0 {
			return att, -1, errNoAttachment
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return att, -1, errors.New("receive the container: no pidfd of its init")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return att, -1, errors.New("receive the container: malformed message")
		}
		if err := json.Unmarshal(buf[:n], &att); err != nil {
			unix.Close(fds[0])
			return att, -1, fmt.Errorf("receive the container: %w", err)
		}
		return att, fds[0], nil
	}
}

// joinCgroups moves the processes pids into each cgroup directory.
func joinCgroups(dirs []string, pids ...int) error {
	for _, dir := range dirs {
		f, err := os.OpenFile(dir+"/cgroup.procs", os.O_WRONLY, 0)
		for _, pid := range pids {
			if err == nil {
				_, err = f.WriteString(fmt.Sprint(pid))
			}
		}
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("join the container's cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// startPoll is how often the supervisor looks for StartFile until the
// plugin starts: the wall-clock limit runs from at most this much after the
// start. (An inotify watch would say it at once, but closing an inotify
// descriptor waits for an SRCU grace period, 10-20 ms here, and a
// foreground run of a short plugin waited that long for its supervisor.)
const startPoll = 20 * time.Millisecond

// watchStart arms the wall-clock limit: now if the plugin has started,
// otherwise once StartFile is gone.
func (s *supervisor) watchStart() error {
	if s.cfg.StartFile == "" {
		s.started(time.Now())
		return nil
	}
	s.awaiting = true
	s.checkStarted(time.Now())
	return nil
}

func (s *supervisor) checkStarted(now time.Time) {
	if _, err := os.Lstat(s.cfg.StartFile); errors.Is(err, os.ErrNotExist) {
		s.started(now)
	}
}

func (s *supervisor) started(now time.Time) {
	s.awaiting = false
	t := now.UTC()
	s.status.Started = &t
	s.deadline = now.Add(s.cfg.Timeout)
}

// loop serves events until nothing of the container is left to watch.
func (s *supervisor) loop() {
	for {
		now := time.Now()
		if s.initExited && s.child == nil {
			return
		}
		var fds []unix.PollFd
		var on []func()
		add := func(fd int, f func()) {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
			on = append(on, f)
		}
		if s.initFD >= 0 {
			add(s.initFD, func() { s.initExit(time.Now()) })
		}
		if s.parentFD >= 0 {
			add(s.parentFD, s.parentDied)
		}
		if s.child != nil {
			add(s.childPipe, s.readCounters)
			add(s.childFD, s.childExit)
		}
		timeout := -1
		wake := func(d time.Duration) {
			if ms := int(d/time.Millisecond) + 1; timeout < 0 || ms < timeout {
				timeout = max(ms, 0)
			}
		}
		if !s.deadline.IsZero() {
			wake(s.deadline.Sub(now))
		}
		if s.awaiting {
			wake(startPoll)
		}
		if s.child != nil {
			wake(watchEvery)
		}
		if !s.killing.IsZero() {
			wake(50 * time.Millisecond)
		}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			s.status.Error = "poll: " + err.Error()
			s.writeStatus()
			time.Sleep(100 * time.Millisecond)
		}
		for i, fd := range fds {
			if fd.Revents != 0 {
				on[i]()
			}
		}
		now = time.Now()
		if s.awaiting {
			s.checkStarted(now)
		}
		if !s.deadline.IsZero() && !now.Before(s.deadline) {
			s.deadline = time.Time{}
			s.end(End{Cause: CauseTimeout, Detail: fmt.Sprintf("wall-clock limit %s exceeded", s.cfg.Timeout), Time: now.UTC()})
		}
		if s.child != nil {
			s.watchChild(now)
		}
		if !s.killing.IsZero() {
			s.sweep(now)
		}
		if s.status != s.lastWritten {
			s.writeStatus()
		}
	}
}

func (s *supervisor) writeStatus() {
	if s.file == nil {
		return // not created yet: the first write has it all
	}
	if err := s.file.Write(&s.status); err != nil {
		// The status file keeps its blocks; this is an I/O error. Say it
		// where someone may read it.
		fmt.Fprintf(os.Stderr, "plugbox: monitor of %s: %v\n", s.cfg.ID, err)
	}
	s.lastWritten = s.status
}

func (s *supervisor) initExit(now time.Time) {
	trace.Mark("monitor: supervisor saw the plugin exit")
	unix.Close(s.initFD)
	s.initFD = -1
	s.initExited = true
	s.initExitAt = now
	// The plugin is over: a limit no longer applies to it.
	s.deadline = time.Time{}
	s.awaiting = false
}

// parentDied: the foreground CLI is gone; so must the plugin be.
func (s *supervisor) parentDied() {
	unix.Close(s.parentFD)
	s.parentFD = -1
	if !s.initExited {
		s.end(End{Cause: CauseParentDied, Detail: "the plugbox run that owned the plugin died", Time: time.Now().UTC()})
	}
}

// end records why the plugin ends and kills the container.
func (s *supervisor) end(e End) {
	if recorded, err := RecordEnd(s.cfg.Dir, e); recorded || err != nil {
		s.status.End = &e
		if err != nil {
			s.status.Error = err.Error()
		}
	}
	s.kill(time.Now())
}

// kill kills every process of the container; sweep repeats it until they
// are gone.
func (s *supervisor) kill(now time.Time) {
	if s.initFD >= 0 {
		if err := unix.PidfdSendSignal(s.initFD, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			s.status.Error = "kill the container's init: " + err.Error()
		}
	}
	if s.killing.IsZero() {
		s.killing = now
	}
	s.sweep(now)
}

func (s *supervisor) sweep(now time.Time) {
	if s.cgroups.KillDir != "" {
		if err := os.WriteFile(s.cgroups.KillDir+"/cgroup.kill", []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.status.Error = "cgroup.kill: " + err.Error()
		}
	}
	left := 0
	if s.cgroups.ProcsDir != "" {
		data, _ := os.ReadFile(s.cgroups.ProcsDir + "/cgroup.procs")
		for _, field := range strings.Fields(string(data)) {
			var pid int
			if _, err := fmt.Sscan(field, &pid); err != nil || pid == s.self || (s.child != nil && pid == s.child.Process.Pid) {
				continue
			}
			left++
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	if (s.initExited && left == 0) || now.Sub(s.killing) > 10*time.Second {
		s.killing = time.Time{}
	}
}

// spawnListener starts the process that receives the seccomp listener from
// the exec shim and serves it. Only that process ever holds the listener:
// its death releases the plugin's waiting calls.
func (s *supervisor) spawnListener() {
	sock, brokerSock := s.socket, s.broker
	s.socket, s.broker = nil, nil
	defer sock.Close()
	if brokerSock != nil {
		defer brokerSock.Close()
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		s.listenerLost(0, "could not be started: "+err.Error())
		return
	}
	pw := os.NewFile(uintptr(pipe[1]), "counters")
	defer pw.Close()
	files := []*os.File{sock, pw}
	if brokerSock != nil {
		files = append(files, brokerSock) // serveBrokerFD
	}
	cmd, err := command(roleServe, s.cfg, files)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		unix.Close(pipe[0])
		s.listenerLost(0, "could not be started: "+err.Error())
		return
	}
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		// Cannot watch it: let it serve, and reap it when it is done.
		s.status.Error = "pidfd_open of the monitor process: " + err.Error()
		go func() { _ = cmd.Wait() }()
		unix.Close(pipe[0])
		return
	}
	_ = unix.SetNonblock(pipe[0], true)
	s.child, s.childFD, s.childPipe = cmd, fd, pipe[0]
	p := Proc{Pid: cmd.Process.Pid}
	if _, start, err := procStat(p.Pid); err == nil {
		p.Start = start
	}
	s.status.Listener = &p
}

// readCounters takes the listener's latest running totals.
func (s *supervisor) readCounters() {
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(s.childPipe, buf)
		if n > 0 {
			s.childBuf = append(s.childBuf, buf[:n]...)
		}
		if n <= 0 || err != nil {
			break // EAGAIN: all read; 0: its end is closed
		}
	}
	end := strings.LastIndexByte(string(s.childBuf), '\n')
	if end < 0 {
		if len(s.childBuf) > 8192 {
			s.childBuf = nil
		}
		return
	}
	lines := s.childBuf[:end]
	last := lines[strings.LastIndexByte(string(lines), '\n')+1:]
	var c Counters
	if json.Unmarshal(last, &c) == nil {
		s.status.Log = c
	}
	s.childBuf = append([]byte(nil), s.childBuf[end+1:]...)
}

// watchChild kills the listener's process when it has been stopped for
// StopDeadline: the kernel then answers the plugin's waiting calls.
func (s *supervisor) watchChild(now time.Time) {
	state, _, err := procStat(s.child.Process.Pid)
	if err != nil || (state != 'T' && state != 't') {
		s.stoppedAt = time.Time{}
		return
	}
	if s.stoppedAt.IsZero() {
		s.stoppedAt = now
		return
	}
	if now.Sub(s.stoppedAt) >= StopDeadline && s.killReason == "" {
		s.killReason = fmt.Sprintf("was stopped (SIGSTOP or a tracer) for %s, so the supervisor killed it: a stopped monitor holds the plugin's notified calls forever", StopDeadline)
		_ = unix.PidfdSendSignal(s.childFD, unix.SIGKILL, nil, 0)
	}
}

// childExit reaps the listener's process and, unless it ended because the
// plugin did, records its loss in the status and the log.
func (s *supervisor) childExit() {
	_ = s.child.Wait()
	trace.Mark("monitor: supervisor reaped the listener")
	s.readCounters()
	unix.Close(s.childPipe)
	unix.Close(s.childFD)
	ps := s.child.ProcessState
	pid := s.child.Process.Pid
	s.child, s.childFD, s.childPipe = nil, -1, -1
	if ps.Success() && s.killReason == "" {
		return
	}
	why := s.killReason
	if why == "" {
		ws := ps.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			why = fmt.Sprintf("was killed by signal %d (%s)", ws.Signal(), unix.SignalName(ws.Signal()))
		} else {
			why = fmt.Sprintf("exited with status %d", ws.ExitStatus())
		}
	}
	s.listenerLost(pid, why)
}

func (s *supervisor) listenerLost(pid int, why string) {
	now := time.Now().UTC()
	what := "the monitor process"
	if pid > 0 {
		what = fmt.Sprintf("the monitor process (pid %d)", pid)
	}
	msg := fmt.Sprintf("%s %s at %s; the kernel fails every later notified call with ENOSYS, unlogged", what, why, now.Format(time.RFC3339))
	s.status.ListenerLost = msg
	s.writeStatus()
	w, err := OpenLog(s.cfg.Log, s.cfg.Limits.MaxBytes)
	if err == nil {
		err = w.Append(Notice{Time: now, Container: s.cfg.ID, Kind: NoticeMonitorDied, Message: msg}, true)
		w.Close()
	}
	if err != nil && !errors.Is(err, ErrLogFull) {
		s.status.Error = "log the monitor's death: " + err.Error()
	}
}
