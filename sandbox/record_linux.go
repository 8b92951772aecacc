package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	return writeFileAtomic(filepath.Join(dir, recordName), data)
}

// ReadLayerRecord decodes the plugbox record of the container in dir into v.
func ReadLayerRecord(dir string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// writeFileAtomic writes data to path through a temp file and a rename, so a
// reader never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
