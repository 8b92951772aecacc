// Package bundle loads, validates, authors and audits OCI bundles
// (config.json + rootfs/) for plugbox. It is pure Go and builds on every OS.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigName is the file name of a bundle's configuration.
const ConfigName = "config.json"

// Load reads dir/config.json, decodes it strictly and checks that it names
// a usable root filesystem and process. Every error names the file and the
// field at fault.
func Load(dir string) (*specs.Spec, error) {
	path := filepath.Join(dir, ConfigName)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, derr := os.Stat(dir); derr != nil {
				return nil, fmt.Errorf("bundle %s does not exist: pass --bundle DIR naming a directory with config.json and rootfs/", dir)
			}
			return nil, fmt.Errorf("%s not found: create one with 'plugbox spec' or 'plugbox bundle init'", path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	spec, err := Decode(path, data)
	if err != nil {
		return nil, err
	}
	if err := Validate(dir, spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// Decode parses config.json bytes; name is used in messages. Syntax and
// type errors report line and column. Unknown properties are ignored, as
// the runtime spec requires ("Runtimes MUST ignore unknown properties");
// plugbox check reports them (UnknownProperties), since a misspelled
// hardening option has no effect.
func Decode(name string, data []byte) (*specs.Spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: it must hold the bundle's JSON configuration (write a starter one with 'plugbox spec' or 'plugbox bundle init')", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var spec specs.Spec
	if err := dec.Decode(&spec); err != nil {
		return nil, describeJSONError(name, data, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the JSON object", name)
	}
	return &spec, nil
}

// describeJSONError turns a decoder error into "file:line:col: what".
func describeJSONError(name string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bad byte itself; point at it.
		line, col := position(data, syn.Offset-1)
		return fmt.Errorf("%s:%d:%d: malformed JSON: %v", name, line, col, syn)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s:%d:%d: field %q must be %s, not JSON %s", name, line, col, field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: malformed JSON: unexpected end of file", name)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// Validate checks the parts of spec every backend relies on: the root
// filesystem exists and the process is runnable. dir is the bundle directory.
func Validate(dir string, spec *specs.Spec) error {
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New(`field "root.path" is missing: set it to the bundle's root filesystem, usually "rootfs"`)
	}
	root := RootfsPath(dir, spec)
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf(`root.path %q: %s does not exist: create the root filesystem or fix root.path`, spec.Root.Path, root)
	}
	if !st.IsDir() {
		return fmt.Errorf(`root.path %q: %s is not a directory`, spec.Root.Path, root)
	}
	if spec.Process == nil {
		return errors.New(`field "process" is missing: it says what to run`)
	}
	if len(spec.Process.Args) == 0 || spec.Process.Args[0] == "" {
		return errors.New(`field "process.args" is empty: give the command to run, e.g. ["/bin/sh"]`)
	}
	for i, a := range spec.Process.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf(`field "process.args[%d]" contains a NUL byte, which execve cannot pass: remove it`, i)
		}
	}
	for i, kv := range spec.Process.Env {
		if strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf(`field "process.env[%d]" contains a NUL byte, which execve cannot pass: remove it`, i)
		}
	}
	if spec.Process.Cwd == "" || !filepath.IsAbs(spec.Process.Cwd) {
		return fmt.Errorf(`field "process.cwd" must be an absolute path, not %q`, spec.Process.Cwd)
	}
	if _, err := ParseAnnotations(spec.Annotations); err != nil {
		return err
	}
	return nil
}

// RootfsPath returns the absolute host path of spec's root filesystem.
func RootfsPath(dir string, spec *specs.Spec) string {
	if filepath.IsAbs(spec.Root.Path) {
		return spec.Root.Path
	}
	return filepath.Join(dir, spec.Root.Path)
}
