package main

import "github.com/urfave/cli/v2"

// commands lists every verb; each is defined in the file of its name.
func commands() []*cli.Command {
	return []*cli.Command{
		createCommand,
		startCommand,
		runCommand,
		stateCommand,
		listCommand,
		killCommand,
		deleteCommand,
		psCommand,
		execCommand,
		pauseCommand,
		resumeCommand,
		updateCommand,
		eventsCommand,
		checkpointCommand,
		restoreCommand,
		specCommand,
		featuresCommand,
		violationsCommand,
		bundleCommand,
		checkCommand,
		seccompCommand,
		traceCommand,
		hookCommand,
		doctorCommand,
		completionCommand,
		manCommand,
	}
}

// bundleFlag is --bundle/-b, shared by create, run and spec.
var bundleFlag = &cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the bundle directory (config.json + rootfs)"}
