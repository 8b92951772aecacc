package hooks

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/bundle"
)

// RecorderArg is argv[1] that makes plugbox's main call RecorderMain: the
// record hook's detached recorder.
const RecorderArg = "__plugbox-recorder"

// DefaultRecordDir is where the record hook writes ID.jsonl unless told.
const DefaultRecordDir = "/run/plugbox/records"

// RecordOptions configures the record hook.
type RecordOptions struct {
	// Dir receives ID.jsonl (DefaultRecordDir when empty).
	Dir string
}

// readyTimeout bounds the hook's wait for its recorder.
const readyTimeout = 10 * time.Second

// Record is the record hook (createRuntime; prestart works too): it reads
// the state, starts a recorder in a session of its own that follows the
// container from its init process on, waits until the recorder reads the
// kernel's log and the process events, and returns; the container's process
// has not run yet. It fails, and with it the create, when no recorder can
// start (no /dev/kmsg, no proc connector, the init gone).
func Record(stdin io.Reader, opts RecordOptions) (string, error) {
	st, err := ReadState(stdin)
	if err != nil {
		return "", err
	}
	if st.Pid <= 0 {
		return "", fmt.Errorf("record %s: the state has no pid: run it as a createRuntime (or prestart) hook, when the container's init exists", st.ID)
	}
	if strings.ContainsAny(st.ID, "/\x00") || st.ID == "." || st.ID == ".." {
		return "", fmt.Errorf("record: container id %q cannot name a file", st.ID)
	}
	dir := opts.Dir
	if dir == "" {
		dir = DefaultRecordDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("record %s: --dir: %w", st.ID, err)
	}
	out := filepath.Join(dir, st.ID+".jsonl")
	scope := "unknown (config.json does not load)"
	if spec, err := bundle.Load(st.Bundle); err == nil {
		scope = recordingScope(spec)
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("record %s: %w", st.ID, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("record %s: %w", st.ID, err)
	}
	defer r.Close()
	cmd := exec.Command(self, RecorderArg, st.ID, strconv.Itoa(st.Pid), out, scope)
	// Not the hook's stdio: the runtime waits for those to close.
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return "", fmt.Errorf("record %s: start the recorder: %w", st.ID, err)
	}
	w.Close()
	go func() { _ = cmd.Wait() }()
	_ = r.SetReadDeadline(time.Now().Add(readyTimeout))
	buf := make([]byte, 512)
	n, err := r.Read(buf)
	if err != nil || n == 0 || buf[0] != 'R' {
		_ = cmd.Process.Kill()
		why := strings.TrimSpace(string(buf[:n]))
		if why == "" && err != nil {
			why = err.Error()
		}
		return "", fmt.Errorf("record %s: the recorder did not start: %s", st.ID, why)
	}
	return out, nil
}

// RecorderMain is the recorder process: RecorderArg ID PID OUTPUT SCOPE,
// the readiness pipe on fd 3. It never returns.
func RecorderMain() {
	ready := os.NewFile(3, "ready")
	if len(os.Args) != 6 {
		fmt.Fprintln(ready, "usage: ID PID OUTPUT SCOPE")
		os.Exit(2)
	}
	pid, err := strconv.Atoi(os.Args[3])
	if err == nil {
		err = record(os.Args[2], pid, os.Args[4], os.Args[5], ready)
	}
	if err != nil {
		fmt.Fprintln(ready, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Grace periods of the recorder: how long after the init's exit it still
// reads the kernel's log, and how long it remembers an exited process (its
// last records may be read after its exit event).
const (
	exitGrace  = 300 * time.Millisecond
	forgetting = 5 * time.Second
)

// record follows container id from its init pid on and writes its records
// to out, telling ready once it reads both sources.
func record(id string, pid int, out, scope string, ready *os.File) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open(%d), the container's init: %w", pid, err)
	}
	defer unix.Close(pidfd)
	procs, err := openProcEvents()
	if err != nil {
		return err
	}
	defer unix.Close(procs)
	kmsg, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/kmsg, where the kernel's audit records go without auditd: %w", err)
	}
	defer unix.Close(kmsg)
	if _, err := unix.Seek(kmsg, 0, io.SeekEnd); err != nil {
		return fmt.Errorf("seek /dev/kmsg: %w", err)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", out, err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	t := &tracker{alive: map[int]bool{pid: true}, gone: map[int]time.Time{}}
	t.adoptNamespace(pid)
	if err := enc.Encode(Notice{Time: time.Now().UTC(), Container: id, Kind: NoticeRecording, Message: "records " + scope}); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if _, err := ready.Write([]byte("R")); err != nil {
		return err
	}
	ready.Close()

	buf := make([]byte, 8192)
	var deadline time.Time
	for {
		fds := []unix.PollFd{{Fd: int32(procs), Events: unix.POLLIN}, {Fd: int32(kmsg), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		timeout := 1000
		if !deadline.IsZero() {
			timeout = int(time.Until(deadline)/time.Millisecond) + 1
		}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll: %w", err)
		}
		// Process events first: a record's fork is always older than it.
		if lost := t.drain(procs, buf); lost {
			_ = enc.Encode(Notice{Time: time.Now().UTC(), Container: id, Kind: NoticeLost, Message: "the proc connector dropped process events (ENOBUFS): records of processes forked meanwhile may be missing"})
		}
		for {
			n, err := unix.Read(kmsg, buf)
			if errors.Is(err, unix.EPIPE) {
				_ = enc.Encode(Notice{Time: time.Now().UTC(), Container: id, Kind: NoticeLost, Message: "the kernel's log overwrote messages before they were read"})
				continue
			}
			if err != nil || n <= 0 {
				break
			}
			rec, suppressed := parseKmsg(string(buf[:n]))
			switch {
			case suppressed > 0:
				_ = enc.Encode(Notice{Time: time.Now().UTC(), Container: id, Kind: NoticeSuppressed, Count: suppressed,
					Message: "the kernel's printk rate limit dropped messages, audit records of this container possibly among them"})
			case rec != nil && t.has(rec.pid):
				_ = enc.Encode(rec.kernelRecord(id))
			}
		}
		if fds[2].Revents != 0 && deadline.IsZero() {
			deadline = time.Now().Add(exitGrace)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil
		}
		t.forget(time.Now())
	}
}

// tracker holds the host pids (thread groups) of the container: its init
// and whatever descends from it.
type tracker struct {
	alive map[int]bool
	gone  map[int]time.Time // exited, remembered until forgotten
}

func (t *tracker) has(pid int) bool {
	_, g := t.gone[pid]
	return t.alive[pid] || g
}

// adoptNamespace adds the processes already in init's pid namespace.
func (t *tracker) adoptNamespace(init int) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns == want {
			t.alive[pid] = true
		}
	}
}

func (t *tracker) forget(now time.Time) {
	for pid, at := range t.gone {
		if now.Sub(at) > forgetting {
			delete(t.gone, pid)
		}
	}
}

// Proc connector (linux/cn_proc.h, linux/connector.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 0x00000001
	procEventExit     = 0x80000000
	nlmsgHdrLen       = 16
	cnMsgLen          = 20
)

// openProcEvents subscribes to the kernel's process events (fork, exit),
// which need CAP_NET_ADMIN: the hook runs as the runtime's root.
func openProcEvents() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return -1, fmt.Errorf("proc connector socket: %w", err)
	}
	// Room for bursts of forks anywhere on the machine.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("proc connector bind (needs CAP_NET_ADMIN, i.e. root): %w", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(msg[8:], 1)                     // seq
	binary.NativeEndian.PutUint32(msg[12:], uint32(os.Getpid()))  // pid
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen:], cnIdxProc)   // id.idx
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen+4:], cnValProc) // id.val
	binary.NativeEndian.PutUint16(msg[nlmsgHdrLen+16:], 4)        // len
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen+cnMsgLen:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("proc connector listen: %w", err)
	}
	return fd, nil
}

// drain reads every queued process event, adding the children of tracked
// processes; it reports whether events were lost.
func (t *tracker) drain(fd int, buf []byte) (lost bool) {
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.ENOBUFS) {
			lost = true
			continue
		}
		if err != nil || n <= 0 {
			return lost
		}
		for msg := buf[:n]; len(msg) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(msg))
			if l < nlmsgHdrLen || l > len(msg) {
				break
			}
			t.event(msg[nlmsgHdrLen:l])
			next := (l + 3) &^ 3
			if next >= len(msg) {
				break
			}
			msg = msg[next:]
		}
	}
}

// event handles one cn_msg carrying a proc_event.
func (t *tracker) event(cn []byte) {
	if len(cn) < cnMsgLen+32 {
		return
	}
	if binary.NativeEndian.Uint32(cn[0:]) != cnIdxProc || binary.NativeEndian.Uint32(cn[4:]) != cnValProc {
		return
	}
	ev := cn[cnMsgLen:]
	u32 := func(off int) int { return int(binary.NativeEndian.Uint32(ev[off:])) }
	switch uint32(u32(0)) {
	case procEventFork:
		parentTgid, childPid, childTgid := u32(20), u32(24), u32(28)
		if childPid == childTgid && t.alive[parentTgid] {
			t.alive[childTgid] = true
			delete(t.gone, childTgid)
		}
	case procEventExit:
		pid, tgid := u32(16), u32(20)
		if pid == tgid && t.alive[tgid] {
			delete(t.alive, tgid)
			t.gone[tgid] = time.Now()
		}
	}
}
