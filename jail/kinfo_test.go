package jail

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func kinfo(pid, jid int, stat byte) []byte {
	b := make([]byte, kinfoProcSize)
	binary.NativeEndian.PutUint32(b, kinfoProcSize)
	binary.NativeEndian.PutUint32(b[kinfoPidOff:], uint32(pid))
	binary.NativeEndian.PutUint32(b[kinfoJidOff:], uint32(jid))
	b[kinfoStatOff] = stat
	return b
}

func TestParseKinfoProcs(t *testing.T) {
	var buf []byte
	buf = append(buf, kinfo(1, 0, 3)...)
	buf = append(buf, kinfo(400, 7, 2)...)
	buf = append(buf, kinfo(401, 7, StatZombie)...)
	buf = append(buf, kinfo(402, 8, 3)...)
	buf = append(buf, kinfo(403, 7, 3)...)
	procs, err := ParseKinfoProcs(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 5 || procs[1] != (Proc{PID: 400, JID: 7, Stat: 2}) || !procs[2].Zombie() {
		t.Errorf("procs = %+v", procs)
	}
	if got := InJail(procs, 7); !reflect.DeepEqual(got, []int{400, 403}) {
		t.Errorf("InJail(7) = %v", got)
	}
	if got := InJail(procs, 9); got != nil {
		t.Errorf("InJail(9) = %v", got)
	}
	if procs, err := ParseKinfoProcs(nil); err != nil || procs != nil {
		t.Errorf("empty buffer: %v %v", procs, err)
	}
}

func TestParseKinfoProcsErrors(t *testing.T) {
	short := kinfo(1, 0, 3)[:100]
	wrong := kinfo(1, 0, 3)
	binary.NativeEndian.PutUint32(wrong, 768) // an ILP32 layout
	for name, buf := range map[string][]byte{
		"truncated":  short,
		"wrong size": wrong,
		"trailing":   append(kinfo(1, 0, 3), 1, 2),
	} {
		if _, err := ParseKinfoProcs(buf); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
