package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's cgo constructor joins the namespaces before the Go runtime
	// starts when this binary is re-executed as "plugbox init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugbox/plugbox/hooks"
	"github.com/plugbox/plugbox/internal/trace"
	"github.com/plugbox/plugbox/sandbox"
)

// init hands the re-executions of this binary to their owners before any CLI
// code runs: "plugbox init" (libcontainer's container init), the seccomp
// monitor, the record hook's recorder and the prestart hook runner. (The
// exec shim is a program of its own, internal/shim.)
func init() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			trace.StartInit()
			libcontainer.Init()
		case sandbox.MonitorArg:
			sandbox.MonitorMain()
		case hooks.RecorderArg:
			hooks.RecorderMain()
		case sandbox.HookStateArg:
			sandbox.HookStateMain()
		}
	}
}
