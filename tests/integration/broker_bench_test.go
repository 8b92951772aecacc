package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkBroker measures, inside a sandbox, what a brokered open and
// connect cost against direct ones. b.N is the number of operations the
// plugin makes in one run, timed by the plugin itself (clock_gettime
// around the loop), so ns/op is the cost of one operation, not of
// starting the sandbox. Run it with a fixed count, e.g.
//
//	make build && PLUGBOX=$PWD/bin/plugbox go test -tags "seccomp netgo osusergo urfave_cli_no_docs" \
//	    -run '^$' -bench Broker -benchtime 20000x ./tests/integration/
//
// open/direct opens a file of the plugin's root filesystem (/etc/passwd) with no broker
// rules; open/passthrough the same file under broker rules (every open now
// goes to the monitor, which lets it continue); open/brokered a file a
// rule grants (the monitor opens it and installs the descriptor);
// open/explicit the same file over the broker socket. connect/direct
// connects to a host listener from a plugin on the host's network;
// connect/brokered does so from a network "none" plugin through its own
// connect; connect/explicit over the broker socket.
func BenchmarkBroker(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the sandboxes map a range of host ids and set cgroup limits")
	}
	plugbox := os.Getenv("PLUGBOX")
	if plugbox == "" {
		b.Skip("set $PLUGBOX to the binary under test (make build)")
	}
	if data, err := os.ReadFile("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass"); err == nil {
		b.Logf("spec_store_bypass: %s", strings.TrimSpace(string(data)))
	}
	work, err := os.MkdirTemp("", "plugbox-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755)
	for _, d := range []string{"in", "out"} {
		os.Mkdir(work+"/"+d, 0o755)
	}
	os.WriteFile(work+"/in/a.png", []byte("allowed"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	ip, port, _ := net.SplitHostPort(addr)
	exe := buildBrokerPlugin(b, work)
	rules := brokerSection{
		Open:    []brokerOpen{{Path: work + "/in/*.png", Access: "read"}},
		Connect: []string{"tcp:" + addr},
	}
	type bench struct {
		name    string
		step    func(n int) string
		network string
		broker  bool
	}
	runs := 0 // each run authors a bundle of its own (-count > 1)
	for _, c := range []bench{
		{"open/direct", func(n int) string { return fmt.Sprintf("bench-open:x:/etc/passwd:%d", n) }, "none", false},
		{"open/passthrough", func(n int) string { return fmt.Sprintf("bench-open:x:/etc/passwd:%d", n) }, "none", true},
		{"open/brokered", func(n int) string { return fmt.Sprintf("bench-open:x:%s/in/a.png:%d", work, n) }, "none", true},
		{"open/explicit", func(n int) string { return fmt.Sprintf("bench-xopen:x:%s/in/a.png:%d", work, n) }, "none", true},
		{"connect/direct", func(n int) string { return fmt.Sprintf("bench-connect:x:%s:%s:%d", ip, port, n) }, "host", false},
		{"connect/brokered", func(n int) string { return fmt.Sprintf("bench-connect:x:%s:%s:%d", ip, port, n) }, "none", true},
		{"connect/explicit", func(n int) string { return fmt.Sprintf("bench-xconnect:x:%d:tcp:%s", n, addr) }, "none", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := brokerManifest{manifest: manifest{Name: "bench", Command: []string{"/bin/plugin", c.step(b.N)}, Network: c.network,
				Syscalls: []string{"base", "fs-read", "net-client"}, Limits: map[string]any{"pids": 16, "memory": "64M", "timeout": "10m"}}}
			if c.broker {
				m.Broker = rules
			}
			runs++
			name := strings.ReplaceAll(c.name, "/", "-") + "-" + strconv.Itoa(b.N) + "-" + strconv.Itoa(runs)
			sb := initBrokerBundle(b, plugbox, work, name, exe, m)
			out, err := exec.Command(plugbox, "--root", sb.root, "run", "--bundle", sb.dir, name).CombinedOutput()
			if err != nil {
				b.Fatalf("plugbox run: %v\n%s", err, out)
			}
			result := parseProbes(string(out))["x"]
			ns, err := strconv.ParseFloat(strings.TrimPrefix(result, "ok ns="), 64)
			if err != nil {
				b.Fatalf("the plugin printed %q:\n%s", result, out)
			}
			b.ReportMetric(ns, "ns/op")
		})
	}
}
