package hooks

import (
	"errors"
	"fmt"
	"io"

	"github.com/plugbox/plugbox/bundle"
)

// ErrRefused is what Check returns for a configuration rated HIGH.
var ErrRefused = errors.New("refused")

// Check is the check hook: it audits the config.json of the bundle the
// state names, as 'plugbox check' does, writes every finding to w, and
// returns an error wrapping ErrRefused when one is HIGH, so the runtime does
// not start the container.
func Check(stdin io.Reader, w io.Writer) error {
	st, err := ReadState(stdin)
	if err != nil {
		return err
	}
	_, findings, err := bundle.CheckFile(st.Bundle)
	if err != nil {
		return fmt.Errorf("check %s: %w", st.ID, err)
	}
	high := 0
	for _, f := range findings {
		if f.Severity >= bundle.High {
			high++
		}
		fmt.Fprintf(w, "plugbox hook check: %s: %s\n", st.ID, f)
	}
	if high > 0 {
		return fmt.Errorf("plugbox hook check: %s: %w: %d HIGH finding(s) in %s/config.json (above); fix them or run 'plugbox check %s' for details", st.ID, ErrRefused, high, st.Bundle, st.Bundle)
	}
	return nil
}
