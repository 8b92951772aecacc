//go:build cgo && seccomp

package seccompgen

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The cost benchmarks time system calls under a loaded filter. A filter
// cannot be unloaded, so each measurement runs in a child process (this test
// binary re-executed) that loads the filter and loops over the call.

const costChildEnv = "PLUGBOX_COST_CHILD" // "filter:syscall:iterations"

// dockerProfilePath is the reference profile of Docker's shape and size
// that the benchmarks compare with (written by 'startbench profile').
func dockerProfilePath() string {
	return filepath.Join("..", "tests", "integration", "testdata", "reference-seccomp.json")
}

// costProfile returns the named profile: "none", "plugbox" (the default
// groups of a plugin bundle) or "docker".
func costProfile(name string) (*specs.LinuxSeccomp, error) {
	switch name {
	case "none":
		return nil, nil
	case "plugbox":
		return Generate(Options{Groups: []string{"base", "fs-read"}})
	case "docker":
		data, err := os.ReadFile(dockerProfilePath())
		if err != nil {
			return nil, err
		}
		var p specs.LinuxSeccomp
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, err
		}
		// As runc does, skip names this libseccomp does not know (newer
		// calls such as getxattrat); Compile would refuse them.
		trimmed, _ := WithoutUnknown(&p)
		return trimmed, nil
	}
	return nil, fmt.Errorf("unknown profile %q", name)
}

// TestCostChild is the child side; it does nothing in a normal test run.
func TestCostChild(t *testing.T) {
	spec := os.Getenv(costChildEnv)
	if spec == "" {
		t.Skip("helper process for BenchmarkSyscallCost; runs only when re-executed by it")
	}
	parts := strings.Split(spec, ":")
	n, _ := strconv.Atoi(parts[2])
	runtime.LockOSThread()
	profile, err := costProfile(parts[0])
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if profile != nil {
		f, err := Compile(profile)
		if err == nil {
			err = f.Load()
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	nr, a0 := uintptr(unix.SYS_GETPID), uintptr(0)
	if parts[1] == "personality" {
		nr, a0 = unix.SYS_PERSONALITY, 0xffffffff // query; argument-filtered
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		unix.RawSyscall(nr, a0, 0, 0)
	}
	fmt.Println("ns", time.Since(start).Nanoseconds())
	os.Exit(0)
}

// BenchmarkSyscallCost reports ns per call of getpid (argument-free, which
// the kernel caches as allowed) and personality (argument-filtered, so the
// BPF program runs) with no filter, plugbox's default and Docker's default.
func BenchmarkSyscallCost(b *testing.B) {
	if _, err := os.Stat(dockerProfilePath()); err != nil {
		b.Fatalf("reference profile %s: %v (regenerate it: go run ./tests/integration/startbench profile > tests/integration/testdata/reference-seccomp.json)", dockerProfilePath(), err)
	}
	if out, err := os.ReadFile("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass"); err == nil {
		b.Logf("spec_store_bypass: %s", strings.TrimSpace(string(out)))
	}
	for _, call := range []string{"getpid", "personality"} {
		for _, profile := range []string{"none", "plugbox", "docker"} {
			b.Run(call+"/"+profile, func(b *testing.B) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCostChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%d", costChildEnv, profile, call, b.N))
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("child: %v: %s", err, out)
				}
				var ns int64
				for _, line := range strings.Split(string(out), "\n") {
					if v, ok := strings.CutPrefix(line, "ns "); ok {
						ns, _ = strconv.ParseInt(v, 10, 64)
					} else if strings.HasPrefix(line, "error ") {
						b.Fatal(line)
					}
				}
				b.ReportMetric(float64(ns)/float64(b.N), "ns/syscall")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
