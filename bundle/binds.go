package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// AuthoredBind records one manifest read or write path as Spec resolved
// and checked it, so that every create can verify that the host file it is
// about to bind is still that one (VerifyBinds).
type AuthoredBind struct {
	// Path is the manifest's path: the mount destination inside.
	Path string `json:"path"`
	// Source is the host path bound, with every symlink resolved.
	Source string `json:"source"`
	// Write is set for a read-write bind.
	Write bool `json:"write,omitempty"`
	// Dir, Dev and Ino identify Source: its type, device and inode.
	Dir bool   `json:"dir"`
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// resolveBinds resolves and identifies every read and write path of e.
func resolveBinds(e *Manifest) ([]AuthoredBind, error) {
	var out []AuthoredBind
	for _, l := range []struct {
		field string
		paths []string
		rw    bool
	}{{"read", e.Read, false}, {"write", e.Write, true}} {
		for i, p := range l.paths {
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q: %w", l.field, i, p, err)
			}
			id, err := statNoFollow(real)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q (%s): %w", l.field, i, p, real, err)
			}
			out = append(out, AuthoredBind{Path: p, Source: real, Write: l.rw, Dir: id.Dir, Dev: id.Dev, Ino: id.Ino})
		}
	}
	return out, nil
}

// ParseBinds decodes the AnnotationBinds value of annotations, or returns
// nil when it is absent.
func ParseBinds(annotations map[string]string) ([]AuthoredBind, error) {
	raw, ok := annotations[AnnotationBinds]
	if !ok {
		return nil, nil
	}
	var binds []AuthoredBind
	if err := json.Unmarshal([]byte(raw), &binds); err != nil {
		return nil, fmt.Errorf("annotations[%q]: %w", AnnotationBinds, err)
	}
	for i, b := range binds {
		if !filepath.IsAbs(b.Path) || !filepath.IsAbs(b.Source) || path.Clean(b.Source) != b.Source {
			return nil, fmt.Errorf("annotations[%q][%d]: path and source must be clean absolute paths", AnnotationBinds, i)
		}
	}
	return binds, nil
}

// MountedBinds returns the binds of spec's AnnotationBinds that spec still
// mounts (a bind mount at the bind's path); VerifyBinds checks those.
func MountedBinds(spec *specs.Spec) ([]AuthoredBind, error) {
	binds, err := ParseBinds(spec.Annotations)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var mounted []AuthoredBind
	for _, b := range binds {
		if bindMount(spec, b) != nil {
			mounted = append(mounted, b)
		}
	}
	return mounted, nil
}

// bindMount is spec's bind mount at b's path (the last one, which the
// sandbox shows), or nil when spec no longer mounts it.
func bindMount(spec *specs.Spec, b AuthoredBind) *specs.Mount {
	var mount *specs.Mount
	for i := range spec.Mounts {
		if path.Clean(spec.Mounts[i].Destination) == path.Clean(b.Path) && isBind(spec.Mounts[i]) {
			mount = &spec.Mounts[i]
		}
	}
	return mount
}

// VerifyBinds checks, right before a sandbox is created from the bundle in
// bundleDir, every host path that bundle init resolved and recorded in
// annotation AnnotationBinds: the bind mount for it must still name the
// recorded source; that source must still resolve without any symbolic
// link to the same file (device and inode) of the same type; and it must
// still be a path Spec would accept. Without the annotation (a bundle
// plugbox did not author) there is nothing to check. A path swapped for a
// link to /etc, or for another directory, after init is refused here
// instead of being bound.
func VerifyBinds(bundleDir string, spec *specs.Spec) error {
	binds, err := ParseBinds(spec.Annotations)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	fix := fmt.Sprintf("restore it, or re-author the bundle (plugbox bundle init) so the new path is checked; bundle %s", bundleDir)
	for _, b := range binds {
		kind := "read"
		if b.Write {
			kind = "write"
		}
		mount := bindMount(spec, b)
		if mount == nil {
			continue // the bind was removed: nothing of the host is exposed
		}
		if path.Clean(mount.Source) != b.Source {
			return fmt.Errorf("config.json: mount %s binds %s, but bundle init checked %s (annotation %s): %s", b.Path, mount.Source, b.Source, AnnotationBinds, fix)
		}
		id, err := statNoFollow(b.Source)
		switch {
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
			return fmt.Errorf("%s path %s: %s now has a symbolic link in it (it had none at bundle init), which the bind would follow out of the path the manifest granted: %s", kind, b.Path, b.Source, fix)
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENOTDIR):
			return fmt.Errorf("%s path %s: %s no longer exists: %s", kind, b.Path, b.Source, fix)
		case err != nil:
			return fmt.Errorf("%s path %s: %s: %w", kind, b.Path, b.Source, err)
		case id.Dir != b.Dir || id.Dev != b.Dev || id.Ino != b.Ino:
			return fmt.Errorf("%s path %s: %s is no longer the file bundle init checked (device %d inode %d, was device %d inode %d): it was replaced; %s", kind, b.Path, b.Source, id.Dev, id.Ino, b.Dev, b.Ino, fix)
		}
		if sev, problem, hint := hostBindRisk(b.Source, b.Write); sev >= Medium {
			return fmt.Errorf("%s path %s: %s: %s", kind, b.Path, problem, hint)
		}
	}
	return nil
}
