package broker

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/seccompgen"
)

// BenchmarkFallbackEvaluate is the monitor's cost of deciding what the
// profile answers an open no rule concerns (run on the default groups).
func BenchmarkFallbackEvaluate(b *testing.B) {
	s, err := seccompgen.Generate(seccompgen.Options{Groups: []string{"fs-read", "net-client"}})
	if err != nil {
		b.Fatal(err)
	}
	prog, err := seccompgen.Program(s)
	if err != nil {
		b.Fatal(err)
	}
	arch, _ := seccompgen.NativeAuditArch()
	d := seccompgen.SeccompData{Nr: unix.SYS_OPENAT, Arch: arch, Args: [6]uint64{0, 0, unix.O_RDONLY}}
	b.Logf("%d instructions", len(prog))
	for b.Loop() {
		if _, err := seccompgen.Evaluate(prog, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadString is the cost of reading a path from a process.
func BenchmarkReadString(b *testing.B) {
	path := []byte("/srv/in/photo-0001.png\x00")
	addr := uint64(uintptr(unsafe.Pointer(&path[0])))
	for b.Loop() {
		if _, err := readString(os.Getpid(), addr); err != nil {
			b.Fatal(err)
		}
	}
}
