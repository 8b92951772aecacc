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
