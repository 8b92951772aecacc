package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's cgo constructor joins the namespaces before the Go runtime
	// starts when this binary is re-executed as "plugbox init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugbox/plugbox/sandbox"
)

// init hands the re-executions of this binary to their owners before any CLI
// code runs: "plugbox init" (libcontainer's container init), the exec shim
// that applies Landlock and seccomp right before the plugin's execve, and
// the seccomp monitor.
func init() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			libcontainer.Init()
		case sandbox.ShimArg:
			sandbox.ShimMain()
		case sandbox.MonitorArg:
			sandbox.MonitorMain()
		}
	}
}
