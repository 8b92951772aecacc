package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// killCommand implements runtime.md "Kill": "Attempting to send a signal to a
// container that is neither created nor running MUST have no effect on the
// container and MUST generate an error. This operation MUST send the
// specified signal to the container process."
var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal (default SIGTERM) to a container's process",
	ArgsUsage: "ID [SIGNAL]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the signal to every process in the container"},
	},
	Action: func(ctx *cli.Context) error {
		sig := syscall.SIGTERM
		if ctx.NArg() > 2 {
			return fmt.Errorf("kill: too many arguments: usage: plugbox kill ID [SIGNAL]")
		}
		if ctx.NArg() == 2 {
			var err error
			if sig, err = parseSignal(ctx.Args().Get(1)); err != nil {
				return err
			}
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Signal(sig, ctx.Bool("all"))
	},
}

// parseSignal accepts "KILL", "SIGKILL", "kill" and "9".
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: numbers run from 1 to 64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal %q: use a name such as TERM, SIGKILL or HUP, or a number", s)
	}
	return sig, nil
}
