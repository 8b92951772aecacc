package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/sandbox"
)

// listCommand lists the containers under --root, as runc list does.
var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list the containers under --root",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the IDs"},
	},
	Action: func(ctx *cli.Context) error {
		format := ctx.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("--format %q: use table or json", format)
		}
		b, err := backend(ctx)
		if err != nil {
			return err
		}
		ids, err := b.List()
		if err != nil {
			return err
		}
		states := []*containerState{}
		for _, id := range ids {
			c, err := b.Load(id)
			if err != nil {
				continue // deleted meanwhile
			}
			st, err := fullState(c)
			if err != nil {
				continue
			}
			states = append(states, st)
		}
		switch {
		case ctx.Bool("quiet"):
			for _, st := range states {
				fmt.Println(st.ID)
			}
		case format == "json":
			return writeJSON(os.Stdout, states)
		default:
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
			for _, st := range states {
				status := string(st.Status)
				if _, ok := st.Annotations[sandbox.IncompleteAnnotation]; ok {
					status += " (create interrupted: delete it)"
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.Pid, status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
			}
			return w.Flush()
		}
		return nil
	},
}
