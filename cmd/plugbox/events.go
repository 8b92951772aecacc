package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/sandbox"
)

// eventsCommand is runc's "events": with --stats one "stats" event, else a
// stats event every --interval until the container stops. Each is a JSON
// line {"type":"stats","id":ID,"data":{...}} laid out as runc's.
var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print a container's resource statistics as JSON events",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "stats", Usage: "print the statistics once and exit"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between statistics events"},
	},
	Action: func(ctx *cli.Context) error {
		interval := ctx.Duration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval %s: must be positive", interval)
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		for {
			stats, err := c.Stats()
			if err != nil {
				if !ctx.Bool("stats") && errors.Is(err, sandbox.ErrNotExist) {
					return nil // deleted meanwhile
				}
				return err
			}
			if err := enc.Encode(event{Type: "stats", ID: c.ID(), Data: stats}); err != nil {
				return fmt.Errorf("events: write: %w", err)
			}
			if ctx.Bool("stats") {
				return nil
			}
			time.Sleep(interval)
			if st, err := c.State(); err != nil || st.Status == sandbox.StatusStopped {
				return nil
			}
		}
	},
}

// event is one line of runc's events output.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}
