package sandbox

import (
	"fmt"
	"os"
	"runtime"

	"github.com/plugbox/plugbox/jail"
)

// FreeBSDInitMain is the container init helper: it joins the jail, drops to
// process.user, waits on exec.fifo for start, then (optionally entering
// Capsicum capability mode) executes the plugin in its own place. It never
// returns. Its logic is in jail_helper.go.
func FreeBSDInitMain() {
	runtime.LockOSThread()
	err := jailInitMain(jail.HostSys())
	fmt.Fprintf(os.Stderr, "plugbox jail-init: %v\n", err)
	os.Exit(127)
}

// FreeBSDBrokerMain is a container's broker, outside its jail: it answers
// the plugin's explicit requests under the broker rules, limiting each
// descriptor with Capsicum before sending it. It never returns. Its logic
// is in jail_broker.go.
func FreeBSDBrokerMain() {
	err := jailBrokerMain(jail.HostSys())
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox jail-broker: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
