//go:build linux && cgo

package main

import (
	"encoding/json"
	"io"

	"github.com/plugbox/plugbox/internal/refprofile"
)

// writeProfile prints the reference profile as linux.seccomp JSON.
func writeProfile(w io.Writer) error {
	p, err := refprofile.Profile()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
