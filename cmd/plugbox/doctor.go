package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/doctor"
)

// doctorCommand reports what this host offers plugbox's layers, what
// plugbox does with each, and the fix for what is missing. It exits 1 when
// a layer plugbox applies by default cannot be applied.
var doctorCommand = &cli.Command{
	Name:  "doctor",
	Usage: "check what this host offers each sandbox layer, and how to fix what is missing",
	Description: `Probes user namespaces (and the sysctls that block them), seccomp and its
   user notification, libseccomp, Landlock, the exec shim, cgroups (and their
   delegation for rootless use), /etc/subuid, overlayfs, the Spectre store
   bypass mitigation and the state root. Each line says what plugbox will do
   with what it found and, when something is missing, the fix. The exit
   status is 1 when a layer plugbox applies by default cannot be applied.

   For tests only: PLUGBOX_DOCTOR_SIMULATE=no-landlock (or no-user-notif,
   no-userns, comma-separated) reports this host as if it lacked them.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "text or json"},
	},
	Action: func(ctx *cli.Context) error {
		simulate, err := doctor.SimulateFromEnv()
		if err != nil {
			return err
		}
		report := doctor.Run(doctor.Options{StateRoot: ctx.String("root"), Simulate: simulate})
		switch ctx.String("format") {
		case "text":
			err = report.Write(os.Stdout)
		case "json":
			err = writeJSON(os.Stdout, report)
		default:
			return fmt.Errorf("--format %q: use text or json", ctx.String("format"))
		}
		if err != nil {
			return err
		}
		if report.Failed() {
			return exitCode(1)
		}
		return nil
	},
}
