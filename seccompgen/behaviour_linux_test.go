//go:build cgo && seccomp

package seccompgen

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childEnv selects what a re-executed test binary does instead of running
// tests: load a filter and try calls, or (under a filter) just start.
const childEnv = "PLUGBOX_SECCOMPGEN_CHILD"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
		os.Exit(m.Run())
	case "started":
		// Reached after execve under the filter: the Go runtime, cgo and
		// glibc's loader started with base, fs-read and net-client only.
		fmt.Println("started under the filter")
		os.Exit(0)
	default:
		os.Exit(child(mode))
	}
}

// childProfile is what the behavioural test loads: network none.
func childProfile() Options {
	return Options{Groups: []string{"fs-read", "net-client"}}
}

// loadFilter sets no_new_privs and loads the profile on every thread, the
// way mode says: "libseccomp" (Compile, then the filter's Load) or
// "program"/"x32" (Load: Program through seccomp(2), with the ENOSYS stub).
func loadFilter(mode string) error {
	s, err := Generate(childProfile())
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if mode == "notify" {
		fd, err := Load(Route(s, false))
		if err != nil {
			return err
		}
		if fd < 0 {
			return errors.New("Load of a notifying profile returned no listener fd")
		}
		return nil
	}
	if mode == "libseccomp" {
		f, err := Compile(s)
		if err != nil {
			return err
		}
		defer f.Release()
		return f.Load()
	}
	fd, err := Load(s)
	if err != nil {
		return err
	}
	if fd != -1 {
		return fmt.Errorf("Load returned listener fd %d for a profile without SCMP_ACT_NOTIFY", fd)
	}
	return nil
}

// child runs in the re-executed binary: it loads the filter, tries calls
// and prints one line per mismatch. Calls that would do harm if wrongly
// allowed carry arguments the kernel rejects (EINVAL, EBADF) after seccomp,
// so a filter bug shows as the wrong errno, not as a forked or escaped test.
func child(mode string) int {
	if err := loadFilter(mode); err != nil {
		fmt.Println("FAIL load:", err)
		return 1
	}
	if mode == "notify" {
		fmt.Println("checks passed")
		return 0
	}
	if mode == "x32" {
		// getpid through the x32 ABI: the filter must kill us with SIGSYS.
		_, _, errno := unix.RawSyscall(uintptr(syscallTable()["getpid"][0])|x32SyscallBit, 0, 0, 0)
		fmt.Println("FAIL x32 getpid returned, errno", errno)
		return 1
	}
	devnull, _ := unix.BytePtrFromString("/dev/null")
	path := uintptr(unsafe.Pointer(devnull))
	cwd := unix.AT_FDCWD
	atfd := uintptr(cwd)
	var how [24]byte // struct open_how, zero: read-only
	high := 1000
	highWant := unix.ENOSYS
	if mode == "libseccomp" {
		highWant = unix.EPERM // no stub: the default action answers
	}
	checks := []struct {
		name string
		nr   uintptr
		args [6]uintptr
		want syscall.Errno // 0: success
	}{
		{"getpid", unix.SYS_GETPID, [6]uintptr{}, 0},
		{"socket(AF_INET)", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}, unix.EPERM},
		{"socket(AF_INET6)", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET6, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC}, unix.EPERM},
		{"socket(AF_UNIX)", unix.SYS_SOCKET, [6]uintptr{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}, 0},
		{"ptrace(bad request)", unix.SYS_PTRACE, [6]uintptr{0xdead}, unix.EPERM},
		{"unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}, unix.EPERM},
		{"clone(CLONE_THREAD|CLONE_NEWNET)", unix.SYS_CLONE, [6]uintptr{unix.CLONE_THREAD | unix.CLONE_NEWNET}, unix.EPERM},
		{"clone(CLONE_THREAD) reaches the kernel", unix.SYS_CLONE, [6]uintptr{unix.CLONE_THREAD}, unix.EINVAL},
		{"clone(fork-like) without process", unix.SYS_CLONE, [6]uintptr{unix.CLONE_SIGHAND}, unix.EPERM},
		{"clone3", unix.SYS_CLONE3, [6]uintptr{}, unix.ENOSYS},
		{"ioctl(TIOCSTI)", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TIOCSTI}, unix.EPERM},
		{"ioctl(TIOCSTI|1<<32)", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TIOCSTI | 1<<32}, unix.EPERM},
		{"ioctl(TIOCLINUX)", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TIOCLINUX}, unix.EPERM},
		{"ioctl(TCGETS) reaches the kernel", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TCGETS}, unix.EBADF},
		{"personality(query)", unix.SYS_PERSONALITY, [6]uintptr{0xffffffff}, 0},
		{"personality(READ_IMPLIES_EXEC)", unix.SYS_PERSONALITY, [6]uintptr{0x0400000}, unix.EPERM},
		{"openat(O_RDONLY)", unix.SYS_OPENAT, [6]uintptr{atfd, path, unix.O_RDONLY | unix.O_CLOEXEC}, 0},
		{"openat(O_WRONLY)", unix.SYS_OPENAT, [6]uintptr{atfd, path, unix.O_WRONLY | unix.O_CLOEXEC}, unix.EPERM},
		{"openat(O_RDONLY|O_TRUNC)", unix.SYS_OPENAT, [6]uintptr{atfd, path, unix.O_TRUNC}, unix.EPERM},
		{"openat2", unix.SYS_OPENAT2, [6]uintptr{atfd, path, uintptr(unsafe.Pointer(&how)), 24}, unix.ENOSYS},
		{"mount", unix.SYS_MOUNT, [6]uintptr{}, unix.EPERM},
		{"bpf", unix.SYS_BPF, [6]uintptr{}, unix.EPERM},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{}, unix.EPERM},
		{"setns", unix.SYS_SETNS, [6]uintptr{^uintptr(0)}, unix.EPERM},
		{fmt.Sprintf("syscall %d", high), uintptr(high), [6]uintptr{}, highWant},
	}
	failed := 0
	for _, c := range checks {
		r, _, errno := unix.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
		if errno != c.want {
			fmt.Printf("FAIL %s: errno %d (%v), want %d (%v)\n", c.name, int(errno), errno, int(c.want), c.want)
			failed++
		}
		if errno == 0 && (c.nr == unix.SYS_SOCKET || c.nr == unix.SYS_OPENAT) {
			unix.Close(int(r))
		}
	}
	// Ordinary Go still works under the filter: goroutines, GC, timers.
	done := make(chan int)
	go func() { runtime.GC(); done <- len(strings.Repeat("x", 1<<20)) }()
	<-done
	if failed > 0 {
		return 1
	}
	if mode == "program" {
		// The plugin's own execve: a dynamically linked cgo binary starts.
		env := []string{childEnv + "=started"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, childEnv+"=") {
				env = append(env, kv)
			}
		}
		err := unix.Exec(os.Args[0], []string{os.Args[0]}, env)
		fmt.Println("FAIL execve:", err)
		return 1
	}
	fmt.Println("checks passed")
	return 0
}

// TestFilterBehaviour loads the generated filter in a re-executed test
// binary and checks what a plugin could and could not do under it.
func TestFilterBehaviour(t *testing.T) {
	if _, err := archFor(""); err != nil {
		t.Skip(err)
	}
	for _, mode := range []string{"libseccomp", "program", "x32", "notify"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "x32" && runtime.GOARCH != "amd64" {
				t.Skip("x32 exists on amd64 only")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if mode == "x32" {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("x32 call: child was not killed: %v\n%s", err, out)
				}
				ws, ok := ee.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
					t.Fatalf("x32 call: child ended with %v, want death by SIGSYS\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("child (%s): %v\n%s", mode, err, out)
			}
			want := "checks passed"
			if mode == "program" {
				want = "started under the filter"
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("child (%s) output lacks %q:\n%s", mode, want, out)
			}
		})
	}
}
