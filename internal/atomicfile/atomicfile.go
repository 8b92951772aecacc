// Package atomicfile writes files so that a reader sees the old content or
// the new, never a torn file: the data goes to a temporary file in the same
// directory, which is then renamed (or linked) into place.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with permission bits mode, flushed to disk
// before the rename: for files that outlive a reboot (a bundle's
// config.json, the BPF cache).
func Write(path string, data []byte, mode fs.FileMode) error {
	return place(path, data, mode, os.Rename, true)
}

// WriteVolatile replaces path with data like Write but does not wait for
// the disk: for runtime state that a reboot discards with the containers
// it describes (a container's state directory, pid files), as runc writes
// its own. Readers still see the old content or the new, never a torn
// file; the fsync it skips costs milliseconds on a disk-backed state root.
func WriteVolatile(path string, data []byte, mode fs.FileMode) error {
	return place(path, data, mode, os.Rename, false)
}

// Create writes data to path, which must not exist yet; an existing path is
// left alone and the error wraps fs.ErrExist.
func Create(path string, data []byte, mode fs.FileMode) error {
	return place(path, data, mode, os.Link, true)
}

// place writes a temporary file beside path (synced when sync is set) and
// moves it there with move (os.Rename replaces, os.Link refuses to).
func place(path string, data []byte, mode fs.FileMode, move func(oldpath, newpath string) error, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after a rename; the extra link after os.Link
	err = writeAll(tmp, data, mode, sync)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = move(tmp.Name(), path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeAll(f *os.File, data []byte, mode fs.FileMode, sync bool) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return f.Sync()
}
