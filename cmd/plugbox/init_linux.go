package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's cgo constructor joins the namespaces before the Go runtime
	// starts when this binary is re-executed as "plugbox init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// init hands "plugbox init" (libcontainer's re-exec of this binary inside the
// new namespaces) to libcontainer before any CLI code runs.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}
