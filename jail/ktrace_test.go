package jail

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The records below are laid out byte by byte as FreeBSD 14's
// sys/sys/ktrace.h defines them on LP64 (amd64), so the parser is checked
// against the header, not against itself.

// headerV1 is struct ktr_header: int ktr_len @0; short ktr_type @4 (with
// KTR_VERSIONED 0x4000, and KTR_DROP 0x8000 when drop); short ktr_version
// @6 (KTR_VERSION1); pid_t ktr_pid @8; char ktr_comm[MAXCOMLEN + 1] @12..32;
// struct timespec ktr_time @32 (tv_sec) and @40 (tv_nsec); long ktr_tid
// @48; int ktr_cpu @56; padded to 64.
func headerV1(typ, length, pid int, comm string, sec, nsec, tid int64, drop bool) []byte {
	h := make([]byte, 64)
	binary.LittleEndian.PutUint32(h[0:], uint32(length))
	t := uint16(typ) | 0x4000
	if drop {
		t |= 0x8000
	}
	binary.LittleEndian.PutUint16(h[4:], t)
	binary.LittleEndian.PutUint16(h[6:], 1)
	binary.LittleEndian.PutUint32(h[8:], uint32(pid))
	copy(h[12:32], comm)
	binary.LittleEndian.PutUint64(h[32:], uint64(sec))
	binary.LittleEndian.PutUint64(h[40:], uint64(nsec))
	binary.LittleEndian.PutUint64(h[48:], uint64(tid))
	binary.LittleEndian.PutUint32(h[56:], 3) // ktr_cpu
	return h
}

// headerV0 is struct ktr_header_v0: int ktr_len @0; short ktr_type @4;
// (padding @6); pid_t ktr_pid @8; char ktr_comm[20] @12..32; struct
// timeval ktr_time @32 (tv_sec) and @40 (tv_usec); long ktr_tid @48; 56
// bytes.
func headerV0(typ, length, pid int, comm string, sec, usec, tid int64) []byte {
	h := make([]byte, 56)
	binary.LittleEndian.PutUint32(h[0:], uint32(length))
	binary.LittleEndian.PutUint16(h[4:], uint16(typ))
	binary.LittleEndian.PutUint32(h[8:], uint32(pid))
	copy(h[12:32], comm)
	binary.LittleEndian.PutUint64(h[32:], uint64(sec))
	binary.LittleEndian.PutUint64(h[40:], uint64(usec))
	binary.LittleEndian.PutUint64(h[48:], uint64(tid))
	return h
}

// capFailNew is the later struct ktr_cap_fail (1040 bytes): enum
// ktr_cap_violation cap_type @0; short cap_code @4 (the system call);
// u_int cap_svflags @8 (SV_ABI_FREEBSD = 9); union ktr_cap_data @16, of
// cap_rights_t cap_rights[2] (cap_needed @16, cap_held @32), int cap_int,
// struct sockaddr cap_sockaddr and char cap_path[MAXPATHLEN = 1024].
func capFailNew(typ, code int, fill func(u []byte)) []byte {
	d := make([]byte, 1040)
	binary.LittleEndian.PutUint32(d[0:], uint32(typ))
	binary.LittleEndian.PutUint16(d[4:], uint16(code))
	binary.LittleEndian.PutUint32(d[8:], 9)
	if fill != nil {
		fill(d[16:])
	}
	return d
}

// capFailOld is FreeBSD 14.0's struct ktr_cap_fail (40 bytes): enum
// ktr_cap_fail_type cap_type @0 (NOTCAPABLE, INCREASE, SYSCALL, LOOKUP);
// padding; cap_rights_t cap_needed @8; cap_rights_t cap_held @24.
func capFailOld(typ int, needed, held Rights) []byte {
	d := make([]byte, 40)
	binary.LittleEndian.PutUint32(d[0:], uint32(typ))
	putRights(d[8:], needed)
	putRights(d[24:], held)
	return d
}

func putRights(b []byte, r Rights) {
	binary.LittleEndian.PutUint64(b, r[0])
	binary.LittleEndian.PutUint64(b[8:], r[1])
}

func rec(h, data []byte) []byte { return append(append([]byte(nil), h...), data...) }

func intPtr(i int) *int { return &i }

func TestParseKtraceNewLayout(t *testing.T) {
	const pid, tid = 701, 100123
	at := func(i int64) (int64, int64) { return 1700000000 + i, 5000 }
	v1 := func(typ int, data []byte, i int64, drop bool) []byte {
		s, ns := at(i)
		return rec(headerV1(typ, len(data), pid, "plugin", s, ns, tid, drop), data)
	}
	write, read := must(NewRights(CapWrite)), must(NewRights(CapRead, CapFstat))
	var file []byte
	// chdir(2) is not allowed in capability mode: recorded at system call
	// entry (cap_code 12 = chdir), then its path by KTR_NAMEI (type 3).
	file = append(file, v1(12, capFailNew(CapfailSyscall, 12, nil), 1, false)...)
	file = append(file, v1(3, []byte("/var/db"), 2, false)...)
	// openat(AT_FDCWD, "/etc/passwd"): a namei violation carries its path.
	file = append(file, v1(12, capFailNew(CapfailNamei, 499, func(u []byte) { copy(u, "/etc/passwd") }), 3, false)...)
	// kill(2) of another process with SIGCONT (19) in cap_int.
	file = append(file, v1(12, capFailNew(CapfailSignal, 37, func(u []byte) { binary.LittleEndian.PutUint32(u, 19) }), 4, false)...)
	// sendto(2) with struct sockaddr_in 127.0.0.1:5000 (sa_len 16,
	// sa_family AF_INET 2, port and address in network order).
	file = append(file, v1(12, capFailNew(CapfailSockaddr, 133, func(u []byte) {
		u[0], u[1] = 16, 2
		binary.BigEndian.PutUint16(u[2:], 5000)
		copy(u[4:8], []byte{127, 0, 0, 1})
	}), 5, false)...)
	// write(2) on a descriptor limited to READ|FSTAT; KTR_DROP says the
	// kernel lost a record before this one.
	file = append(file, v1(12, capFailNew(CapfailNotCapable, 4, func(u []byte) {
		putRights(u[0:], write)
		putRights(u[16:], read)
	}), 6, true)...)
	// fcntl(F_KINFO = 22) is an fcntl command capability mode refuses.
	file = append(file, v1(12, capFailNew(CapfailSyscall, 92, func(u []byte) { binary.LittleEndian.PutUint32(u, 22) }), 7, false)...)
	// A NAMEI record with nothing pending is not a violation.
	file = append(file, v1(3, []byte("/lib/libc.so.7"), 8, false)...)
	// A torn last record (the kernel still writing) is ignored.
	file = append(file, v1(12, capFailNew(CapfailSyscall, 12, nil), 9, false)[:100]...)

	tr, err := ParseKtrace(file)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.NewLayout || tr.Dropped != 1 {
		t.Errorf("NewLayout %v Dropped %d, want true 1", tr.NewLayout, tr.Dropped)
	}
	tm := func(i int64) time.Time { s, ns := at(i); return time.Unix(s, ns) }
	want := []Violation{
		{Time: tm(1), Kind: "syscall", Syscall: "chdir", Path: "/var/db"},
		{Time: tm(3), Kind: "path", Syscall: "openat", Path: "/etc/passwd"},
		{Time: tm(4), Kind: "signal", Syscall: "kill", Value: intPtr(19)},
		{Time: tm(5), Kind: "address", Syscall: "sendto", Address: "127.0.0.1:5000"},
		{Time: tm(6), Kind: "rights", Syscall: "write", Needed: []string{"CAP_WRITE"}, Held: []string{"CAP_READ", "CAP_FSTAT"}},
		{Time: tm(7), Kind: "syscall", Syscall: "fcntl", Value: intPtr(22)},
	}
	for i := range want {
		want[i].Pid, want[i].Tid, want[i].Comm = pid, tid, "plugin"
	}
	if !reflect.DeepEqual(tr.Violations, want) {
		t.Errorf("violations\n got %+v\nwant %+v", tr.Violations, want)
	}
	if s := tr.Violations[0].String(); !strings.Contains(s, `pid 701 plugin: syscall chdir "/var/db"`) {
		t.Errorf("String = %q", s)
	}
}

// FreeBSD 14.0 writes the versioned header but the 40-byte ktr_cap_fail;
// older files have ktr_header_v0. A lookup violation (CAPFAIL_LOOKUP = 3)
// takes its path from the KTR_NAMEI record just before it.
func TestParseKtraceOldLayout(t *testing.T) {
	write, read := must(NewRights(CapWrite)), must(NewRights(CapRead))
	for name, hdr := range map[string]func(typ, length int, i int64) []byte{
		"ktr_header":    func(typ, n int, i int64) []byte { return headerV1(typ, n, 9, "sh", 10+i, 0, 77, false) },
		"ktr_header_v0": func(typ, n int, i int64) []byte { return headerV0(typ, n, 9, "sh", 10+i, 0, 77) },
	} {
		t.Run(name, func(t *testing.T) {
			var file []byte
			add := func(typ int, data []byte, i int64) { file = append(file, rec(hdr(typ, len(data), i), data)...) }
			add(3, []byte("/etc/passwd"), 1)
			add(12, capFailOld(3, Rights{}, Rights{}), 2)
			add(12, capFailOld(CapfailNotCapable, write, read), 3)
			add(12, capFailOld(CapfailSyscall, Rights{}, Rights{}), 4)
			tr, err := ParseKtrace(file)
			if err != nil {
				t.Fatal(err)
			}
			if tr.NewLayout {
				t.Error("40-byte records reported as the new layout")
			}
			got := []string{}
			for _, v := range tr.Violations {
				got = append(got, v.Kind+" "+v.Path+" "+strings.Join(v.Needed, "|")+"/"+strings.Join(v.Held, "|")+" "+v.Layout+" "+v.Comm)
			}
			want := []string{"path /etc/passwd / 14.0 sh", "rights  CAP_WRITE/CAP_READ 14.0 sh", "syscall  / 14.0 sh"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
			if tr.Violations[0].Time != time.Unix(12, 0) { // the CAPFAIL record's own time
				t.Errorf("time %v", tr.Violations[0].Time)
			}
		})
	}
}

func TestParseKtraceErrors(t *testing.T) {
	bad := headerV1(12, 40, 1, "x", 0, 0, 1, false)
	binary.LittleEndian.PutUint16(bad[6:], 2) // ktr_version 2
	for name, data := range map[string][]byte{
		"unknown version":   rec(bad, make([]byte, 40)),
		"capfail of 12 b":   rec(headerV1(12, 12, 1, "x", 0, 0, 1, false), make([]byte, 12)),
		"negative ktr_len":  rec(headerV1(12, -1, 1, "x", 0, 0, 1, false), nil),
		"unknown cap_type":  rec(headerV1(12, 1040, 1, "x", 0, 0, 1, false), capFailNew(42, 1, nil)),
		"unknown 14.0 type": rec(headerV1(12, 40, 1, "x", 0, 0, 1, false), capFailOld(9, Rights{}, Rights{})),
	} {
		if _, err := ParseKtrace(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if tr, err := ParseKtrace(nil); err != nil || len(tr.Violations) != 0 {
		t.Errorf("empty file: %v %v", tr, err)
	}
}

func TestRightNames(t *testing.T) {
	r := must(NewRights(CapMmapRX, CapFstat, CapEvent, CapLookup))
	got := RightNames(r)
	want := []string{"CAP_MMAP_RX", "CAP_LOOKUP", "CAP_FSTAT", "CAP_EVENT"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RightNames = %q, want %q", got, want)
	}
	if got := RightNames(Rights{0x0200000000000000 | 1<<56, 0x0400000000000000}); !reflect.DeepEqual(got, []string{"word0:0x100000000000000"}) {
		t.Errorf("unknown bit: %q", got)
	}
	if SyscallName(5, 9) != "open" || SyscallName(5, 3) != "syscall 5" || SyscallName(9999, 9) != "syscall 9999" {
		t.Error("SyscallName")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSummarize(t *testing.T) {
	vs := []Violation{
		{Kind: "syscall", Syscall: "open", Path: "/etc/passwd", Pid: 1},
		{Kind: "path", Syscall: "openat", Path: "/etc/libmap.conf", Pid: 1},
		{Kind: "syscall", Syscall: "open", Path: "/etc/passwd", Pid: 2},
		{Kind: "signal", Syscall: "kill", Value: intPtr(15)},
		{Kind: "signal", Syscall: "kill", Value: intPtr(9)},
	}
	got := Summarize(vs)
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf("%d %v %s", c.Count, c.Benign, c.What()))
	}
	want := []string{`2 false syscall open "/etc/passwd"`, `1 true path openat "/etc/libmap.conf"`, "1 false signal kill value 15", "1 false signal kill value 9"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %q\nwant %q", lines, want)
	}
}

// The trace marker separates the helper's records from the plugin's; its
// absence means the kernel does not trace outside capability mode.
func TestAfterMarker(t *testing.T) {
	tr := &Trace{Violations: []Violation{
		{Kind: "syscall", Syscall: "fcntl"},
		{Kind: "syscall", Syscall: "chdir", Path: TraceMarker},
		{Kind: "path", Syscall: "chdir", Path: TraceMarker},
		{Kind: "syscall", Syscall: "open", Path: "/etc/passwd"},
		{Kind: "syscall", Syscall: "chdir", Path: TraceMarker},
	}}
	got, ok := tr.AfterMarker()
	if !ok || len(got) != 2 || got[0].Syscall != "open" {
		t.Errorf("AfterMarker = %v %v", got, ok)
	}
	if _, ok := (&Trace{Violations: []Violation{{Kind: "syscall", Syscall: "open"}}}).AfterMarker(); ok {
		t.Error("marker found in a trace without one")
	}
}
