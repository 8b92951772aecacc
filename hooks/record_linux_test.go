package hooks

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// procEvent builds one netlink message carrying a proc_event.
func procEvent(what uint32, fields ...uint32) []byte {
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+16+24)
	binary.NativeEndian.PutUint32(msg, uint32(len(msg)))
	cn := msg[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(cn[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(cn[4:], cnValProc)
	ev := cn[cnMsgLen:]
	binary.NativeEndian.PutUint32(ev[0:], what)
	for i, f := range fields {
		binary.NativeEndian.PutUint32(ev[16+4*i:], f)
	}
	return msg
}

func TestTrackerFollowsForks(t *testing.T) {
	tr := &tracker{alive: map[int]bool{100: true}, gone: map[int]time.Time{}}
	for _, m := range [][]byte{
		procEvent(procEventFork, 100, 100, 101, 101), // init forks 101
		procEvent(procEventFork, 101, 101, 102, 101), // a thread of 101: same group
		procEvent(procEventFork, 7, 7, 200, 200),     // a process elsewhere
		procEvent(procEventFork, 101, 101, 103, 103), // a grandchild
		procEvent(procEventExit, 101, 101),
	} {
		tr.event(m[nlmsgHdrLen:])
	}
	for pid, want := range map[int]bool{100: true, 101: true, 102: false, 103: true, 200: false} {
		if tr.has(pid) != want {
			t.Errorf("has(%d) = %v", pid, !want)
		}
	}
	if tr.alive[101] {
		t.Error("an exited process is still alive")
	}
	tr.forget(time.Now().Add(2 * forgetting))
	if tr.has(101) {
		t.Error("an exited process is remembered forever (its pid will be reused)")
	}
}

func TestRecordNeedsAPid(t *testing.T) {
	_, err := Record(strings.NewReader(`{"ociVersion": "1.0.2", "id": "c", "status": "creating", "bundle": "/b"}`), RecordOptions{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "createRuntime") {
		t.Errorf("Record without a pid: %v", err)
	}
	_, err = Record(strings.NewReader(`{"ociVersion": "1.0.2", "id": "../x", "status": "creating", "pid": 1, "bundle": "/b"}`), RecordOptions{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cannot name a file") {
		t.Errorf("Record with id ../x: %v", err)
	}
}
