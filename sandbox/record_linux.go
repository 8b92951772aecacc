package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/plugbox/plugbox/internal/atomicfile"
)

// recordName is the file, in a container's state directory, where plugbox
// keeps what it adds to the backend's own state.
const recordName = "plugbox.json"

// writeLayerRecord stores v as JSON in dir atomically (temp file + rename).
func writeLayerRecord(dir string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteVolatile(filepath.Join(dir, recordName), data, 0o600)
}

// ReadLayerRecord decodes the plugbox record of the container in dir into v.
func ReadLayerRecord(dir string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
