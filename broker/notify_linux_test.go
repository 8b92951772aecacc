package broker

import (
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestOpenRequestOf(t *testing.T) {
	for _, c := range []struct {
		flags  uint64
		want   OpenRequest
		reason string
	}{
		{unix.O_RDONLY | unix.O_CLOEXEC, OpenRequest{Read: true, CloseOnExec: true}, ""},
		{unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, OpenRequest{Write: true, Create: true, Exclusive: true}, ""},
		{unix.O_RDWR | unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK, OpenRequest{Read: true, Write: true, Truncate: true, Append: true, Nonblock: true}, ""},
		{unix.O_RDONLY | unix.O_LARGEFILE | unix.O_NOFOLLOW | unix.O_NOCTTY, OpenRequest{Read: true}, ""},
		{unix.O_WRONLY | unix.O_DSYNC, OpenRequest{Write: true, Sync: true}, ""},
		{unix.O_RDONLY | unix.O_DIRECTORY, OpenRequest{Read: true}, "directory descriptors"},
		{unix.O_PATH, OpenRequest{Read: true}, "O_PATH"},
		{unix.O_RDWR | unix.O_TMPFILE, OpenRequest{Read: true, Write: true}, "O_TMPFILE"},
		{unix.O_RDONLY | unix.O_DIRECT, OpenRequest{Read: true}, "are not brokered"},
		{3, OpenRequest{}, "invalid access mode"},
	} {
		got, why := openRequestOf("/p", c.flags)
		c.want.Path = "/p"
		if c.reason == "" && (got != c.want || why != "") || c.reason != "" && !strings.Contains(why, c.reason) {
			t.Errorf("openRequestOf(%#o) = %+v, %q; want %+v, %q", c.flags, got, why, c.want, c.reason)
		}
	}
}

func TestParseSockaddr(t *testing.T) {
	sa4 := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(sa4, unix.AF_INET)
	binary.BigEndian.PutUint16(sa4[2:], 8080)
	copy(sa4[4:], []byte{127, 0, 0, 1})
	a, fam, ok := parseSockaddr(sa4)
	if !ok || fam != unix.AF_INET || a.String() != "tcp:127.0.0.1:8080" {
		t.Errorf("AF_INET: %v %d %v", a, fam, ok)
	}
	sa6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(sa6, unix.AF_INET6)
	binary.BigEndian.PutUint16(sa6[2:], 443)
	mapped := netip.MustParseAddr("::ffff:10.0.0.1").As16()
	copy(sa6[8:], mapped[:])
	if a, _, ok := parseSockaddr(sa6); !ok || a.String() != "tcp:10.0.0.1:443" {
		t.Errorf("AF_INET6 mapped: %v %v", a, ok)
	}
	un := append(binary.NativeEndian.AppendUint16(nil, unix.AF_UNIX), "/run/app/api.sock\x00junk"...)
	if a, _, ok := parseSockaddr(un); !ok || a.Path != "/run/app/api.sock" {
		t.Errorf("AF_UNIX: %v %v", a, ok)
	}
	abstract := append(binary.NativeEndian.AppendUint16(nil, unix.AF_UNIX), "\x00hidden"...)
	if _, _, ok := parseSockaddr(abstract); ok {
		t.Error("an abstract unix socket was taken for a brokered address")
	}
	if _, _, ok := parseSockaddr(sa4[:8]); ok {
		t.Error("a short sockaddr_in was accepted")
	}
}

// TestReadStringAcrossPages: a path that ends right before an unmapped
// page is read whole; one that runs into it is an error, not garbage.
func TestReadStringAcrossPages(t *testing.T) {
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	if err := unix.Mprotect(mem[page:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	s := "/srv/in/a.png"
	start := page - len(s) - 1
	copy(mem[start:], s+"\x00")
	base := uint64(uintptr(unsafe.Pointer(&mem[0])))
	got, err := readString(os.Getpid(), base+uint64(start))
	if err != nil || got != s {
		t.Errorf("readString = %q, %v; want %q", got, err, s)
	}
	copy(mem[page-4:], "abcd") // no NUL before the unmapped page
	if got, err := readString(os.Getpid(), base+uint64(page-4)); err == nil {
		t.Errorf("readString into an unmapped page = %q, want an error", got)
	}
}
