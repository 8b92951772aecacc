package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ReadState decodes the container state a runtime writes on a hook's
// standard input (runtime-spec "State"), which must name the container and
// its bundle.
func ReadState(r io.Reader) (*specs.State, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the container state on standard input: %w", err)
	}
	var st specs.State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("the container state on standard input is not JSON (run this as an OCI hook from config.json): %w", err)
	}
	if st.ID == "" || st.Bundle == "" {
		return nil, errors.New("the container state on standard input names no id or bundle (run this as an OCI hook from config.json)")
	}
	return &st, nil
}
