//go:build linux

// Command flood makes system calls that a plugbox profile denies, for the
// tests of the seccomp monitor (monitor_hostile.bats). Each is mount(2) with
// arguments that could never succeed, so run on the host it only fails too.
//
//	flood same SECONDS       the same call, as fast as possible
//	flood distinct SECONDS   a different last argument each time (no two alike)
//	flood tick N INTERVAL    N calls, one every INTERVAL, each result on a line
//
// same and distinct end with one line "calls N eperm E enosys S other O".
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		usage()
	}
	switch os.Args[1] {
	case "same", "distinct":
		seconds, err := strconv.ParseFloat(os.Args[2], 64)
		if err != nil {
			usage()
		}
		flood(os.Args[1] == "distinct", time.Duration(seconds*float64(time.Second)))
	case "tick":
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || len(os.Args) != 4 {
			usage()
		}
		every, err := time.ParseDuration(os.Args[3])
		if err != nil {
			usage()
		}
		tick(n, every)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: flood same|distinct SECONDS | flood tick N INTERVAL")
	os.Exit(2)
}

// deniedCall makes one mount(2) whose last argument is data.
func deniedCall(data uintptr) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_MOUNT, 0, 0, 0, 0, data, 0)
	return errno
}

func flood(distinct bool, d time.Duration) {
	var calls, eperm, enosys, other uint64
	deadline := time.Now().Add(d)
	for i := uintptr(1); ; i++ {
		if i%256 == 0 && time.Now().After(deadline) {
			break
		}
		data := uintptr(0)
		if distinct {
			data = i
		}
		calls++
		switch deniedCall(data) {
		case syscall.EPERM:
			eperm++
		case syscall.ENOSYS:
			enosys++
		default:
			other++
		}
	}
	fmt.Printf("calls %d eperm %d enosys %d other %d\n", calls, eperm, enosys, other)
}

func tick(n int, every time.Duration) {
	for i := 1; i <= n; i++ {
		start := time.Now()
		errno := deniedCall(uintptr(i))
		fmt.Printf("call %d %s %.1fs\n", i, errnoName(errno), time.Since(start).Seconds())
		time.Sleep(every)
	}
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOSYS:
		return "ENOSYS"
	case 0:
		return "OK"
	}
	return "errno" + strconv.Itoa(int(e))
}
