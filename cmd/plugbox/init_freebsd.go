package main

import (
	"os"

	"github.com/plugbox/plugbox/sandbox"
)

// init hands "plugbox jail-init" (the helper that attaches to a jail and
// waits for start) and "plugbox jail-broker" (a container's broker, outside
// its jail) to the FreeBSD backend before any CLI code runs.
func init() {
	if len(os.Args) > 1 && os.Args[1] == sandbox.FreeBSDInitArg {
		sandbox.FreeBSDInitMain()
	}
	if len(os.Args) > 1 && os.Args[1] == sandbox.FreeBSDBrokerArg {
		sandbox.FreeBSDBrokerMain()
	}
}
