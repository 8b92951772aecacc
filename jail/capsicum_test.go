package jail

import (
	"reflect"
	"testing"
)

// Values of sys/capsicum.h (FreeBSD 14) the encoding must reproduce.
func TestRightConstants(t *testing.T) {
	for name, tt := range map[string]struct {
		got  Right
		want uint64
	}{
		"CAP_READ":        {CapRead, 0x200000000000001},
		"CAP_WRITE":       {CapWrite, 0x200000000000002},
		"CAP_SEEK_TELL":   {CapSeekTell, 0x200000000000004},
		"CAP_SEEK":        {CapSeek, 0x20000000000000c},
		"CAP_MMAP":        {CapMmap, 0x200000000000010},
		"CAP_MMAP_R":      {CapMmapR, 0x20000000000001d},
		"CAP_MMAP_X":      {CapMmapX, 0x20000000000003c},
		"CAP_MMAP_RX":     {CapMmapRX, 0x20000000000003d},
		"CAP_FEXECVE":     {CapFexecve, 0x200000000000080},
		"CAP_FSYNC":       {CapFsync, 0x200000000000100},
		"CAP_FTRUNCATE":   {CapFtruncate, 0x200000000000200},
		"CAP_LOOKUP":      {CapLookup, 0x200000000000400},
		"CAP_FCHDIR":      {CapFchdir, 0x200000000000800},
		"CAP_FCNTL":       {CapFcntl, 0x200000000008000},
		"CAP_FSTAT":       {CapFstat, 0x200000000080000},
		"CAP_FSTATAT":     {CapFstatat, 0x200000000080400},
		"CAP_FSTATFS":     {CapFstatfs, 0x200000000100000},
		"CAP_ACCEPT":      {CapAccept, 0x200000020000000},
		"CAP_GETPEERNAME": {CapGetpeername, 0x200000100000000},
		"CAP_GETSOCKNAME": {CapGetsockname, 0x200000200000000},
		"CAP_GETSOCKOPT":  {CapGetsockopt, 0x200000400000000},
		"CAP_SETSOCKOPT":  {CapSetsockopt, 0x200002000000000},
		"CAP_SHUTDOWN":    {CapShutdown, 0x200004000000000},
		"CAP_RECV":        {CapRecv, 0x200000000000001},
		"CAP_SEND":        {CapSend, 0x200000000000002},
		"CAP_EVENT":       {CapEvent, 0x400000000000020},
	} {
		if uint64(tt.got) != tt.want {
			t.Errorf("%s = %#x, want %#x", name, uint64(tt.got), tt.want)
		}
	}
}

func TestNewRights(t *testing.T) {
	empty, err := NewRights()
	if err != nil {
		t.Fatal(err)
	}
	// cap_rights_init: version 0 in bits 62-63 of word 0, index bits set.
	if empty != (Rights{0x0200000000000000, 0x0400000000000000}) {
		t.Errorf("empty rights = %#x", empty)
	}
	r, err := NewRights(CapRead, CapEvent, CapFstat)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Rights{0x0200000000080001, 0x0400000000000020}); r != want {
		t.Errorf("rights = %#x, want %#x", r, want)
	}
	if !r.Has(CapRead, CapEvent) || r.Has(CapWrite) {
		t.Errorf("Has is wrong for %#x", r)
	}
	if _, err := NewRights(Right(0x1)); err == nil {
		t.Error("a right without index bits was accepted")
	}
	if _, err := NewRights(Right(3 << 57)); err == nil {
		t.Error("a right with two index bits was accepted")
	}
}

// TestLimitsFor pins the rights of every descriptor kind (F3): sockets,
// pipes and files keep CAP_FCNTL narrowed to F_GETFL/F_SETFL so that
// O_NONBLOCK can be set, and a listener carries RECV/SEND because accepted
// connections inherit the listener's rights (kern_accept4).
func TestLimitsFor(t *testing.T) {
	all := []Right{CapRead, CapWrite, CapSeek, CapFstat, CapFtruncate, CapFsync, CapEvent, CapLookup,
		CapAccept, CapGetpeername, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown, CapFexecve, CapMmap, CapFcntl, CapIoctl, CapMmapX}
	getset := CapFcntlGetfl | CapFcntlSetfl
	stream := []uint64{0x8004667e, 0x4004667f} // FIONBIO, FIONREAD
	tests := []struct {
		kind   FDKind
		mode   AccessMode
		want   []Right
		ioctls []uint64
	}{
		{FDFile, ReadOnly, []Right{CapRead, CapMmapR, CapSeek, CapFstat, CapFcntl, CapEvent}, nil},
		{FDFile, WriteOnly, []Right{CapWrite, CapMmapW, CapSeek, CapFstat, CapFtruncate, CapFsync, CapFcntl, CapEvent}, nil},
		{FDFile, ReadWrite, []Right{CapRead, CapWrite, CapMmapR, CapMmapW, CapSeek, CapFstat, CapFtruncate, CapFsync, CapFcntl, CapEvent}, nil},
		{FDPipe, ReadOnly, []Right{CapRead, CapFstat, CapEvent, CapFcntl, CapIoctl}, stream},
		{FDPipe, WriteOnly, []Right{CapWrite, CapFstat, CapEvent, CapFcntl, CapIoctl}, stream},
		{FDCharDev, ReadWrite, []Right{CapRead, CapWrite, CapFstat, CapEvent, CapFcntl, CapIoctl}, append(stream, 0x402c7413)},
		{FDSocket, ReadWrite, []Right{CapRecv, CapSend, CapEvent, CapFstat, CapFcntl, CapIoctl, CapGetpeername, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown}, stream},
		{FDListener, ReadWrite, []Right{CapAccept, CapRecv, CapSend, CapEvent, CapFstat, CapFcntl, CapIoctl, CapGetpeername, CapGetsockname, CapGetsockopt, CapSetsockopt, CapShutdown}, stream},
	}
	for _, tt := range tests {
		l, err := LimitsFor(tt.kind, tt.mode)
		if err != nil {
			t.Errorf("%s/%d: %v", tt.kind, tt.mode, err)
			continue
		}
		// Exactly the wanted rights: each wanted one is set, and every
		// other right of the list is not (unless it is part of a wanted
		// composite, e.g. CAP_SEEK_TELL inside CAP_SEEK).
		want, _ := NewRights(tt.want...)
		if l.Rights != want {
			t.Errorf("%s/%d: rights %#x, want %#x", tt.kind, tt.mode, l.Rights, want)
		}
		for _, x := range all {
			if l.Rights.Has(x) != want.Has(x) {
				t.Errorf("%s/%d: Has(%#x) = %v", tt.kind, tt.mode, uint64(x), l.Rights.Has(x))
			}
		}
		if l.Fcntls != getset {
			t.Errorf("%s/%d: fcntls %#x, want GETFL|SETFL", tt.kind, tt.mode, l.Fcntls)
		}
		if !reflect.DeepEqual(l.Ioctls, tt.ioctls) {
			t.Errorf("%s/%d: ioctls %#x, want %#x", tt.kind, tt.mode, l.Ioctls, tt.ioctls)
		}
	}
	for _, bad := range []struct {
		kind FDKind
		mode AccessMode
	}{{FDUnknown, ReadOnly}, {FDDir, ReadOnly}, {FDDir, WriteOnly}, {FDKind(42), ReadOnly}} {
		if _, err := LimitsFor(bad.kind, bad.mode); err == nil {
			t.Errorf("LimitsFor(%s, %d) succeeded, want refusal", bad.kind, bad.mode)
		}
	}
}

// The capsicum.h constants added for F3, against the values in x/sys's
// zerrors_freebsd_amd64.go and sys/filio.h / sys/ttycom.h.
func TestFcntlAndIoctlConstants(t *testing.T) {
	for name, tt := range map[string]struct{ got, want uint64 }{
		"CAP_FCNTL_GETFL":  {uint64(CapFcntlGetfl), 0x8},
		"CAP_FCNTL_SETFL":  {uint64(CapFcntlSetfl), 0x10},
		"CAP_FCNTL_GETOWN": {uint64(CapFcntlGetown), 0x20},
		"CAP_FCNTL_SETOWN": {uint64(CapFcntlSetown), 0x40},
		"CAP_IOCTL":        {uint64(CapIoctl), 0x400000000000080},
		"CAP_MMAP_W":       {uint64(CapMmapW), 0x20000000000001e},
		"FIONBIO":          {FIONBIO, 0x8004667e},
		"FIONREAD":         {FIONREAD, 0x4004667f},
		"TIOCGETA":         {TIOCGETA, 0x402c7413},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", name, tt.got, tt.want)
		}
	}
}

func TestReadOnlyFileCannotWrite(t *testing.T) {
	l, _ := LimitsFor(FDFile, ReadOnly)
	for _, x := range []Right{CapWrite, CapFtruncate, CapFsync, CapMmapX, CapFexecve, CapLookup, CapIoctl} {
		if l.Rights.Has(x) {
			t.Errorf("read-only file has right %#x", uint64(x))
		}
	}
}

func TestExecAndLibRights(t *testing.T) {
	e, err := ExecRights()
	if err != nil {
		t.Fatal(err)
	}
	if !e.Has(CapFexecve, CapMmapRX, CapRead) || e.Has(CapWrite) {
		t.Errorf("exec rights %#x", e)
	}
	l, err := LibDirRights()
	if err != nil {
		t.Fatal(err)
	}
	// F16: the minimal set rtld needs, nothing that writes or changes flags.
	want, _ := NewRights(CapLookup, CapRead, CapFstat, CapFstatfs, CapMmapRX)
	if l != want || l.Has(CapWrite) || l.Has(CapFexecve) || l.Has(CapFcntl) {
		t.Errorf("library dir rights %#x, want %#x", l, want)
	}
	if got := LibraryPathFDs([]int{5, 6, 9}); got != "5:6:9" {
		t.Errorf("LibraryPathFDs = %q", got)
	}
}
