package plugbox

import (
	"fmt"
	"runtime"

	"github.com/plugbox/plugbox/bundle"
)

// Manifest is a plugin's plugin.json: what the plugin needs, from which
// Author derives a hardened bundle; everything else is denied. See
// package bundle for its fields and their defaults.
type Manifest = bundle.Manifest

// Limits bounds a plugin's resources (Manifest.Limits).
type Limits = bundle.Limits

// ByteSize is a size in bytes (Limits.Memory, Tmp and FileSize).
type ByteSize = bundle.ByteSize

// DefaultManifest returns the manifest Author uses for a nil one (with no
// command).
func DefaultManifest() *Manifest { return bundle.DefaultManifest() }

// LoadManifest reads and validates a plugin.json file.
func LoadManifest(path string) (*Manifest, error) { return bundle.LoadManifest(path) }

// AuthorOptions are Author's choices beyond the manifest.
type AuthorOptions struct {
	// OS is the system the bundle runs on: "linux" or "freebsd"; ""
	// means the host's.
	OS string
	// AllowUntrustedFiles also copies interpreters and libraries that
	// are not root-owned and world-readable ("plugbox bundle init
	// --allow-untrusted-files").
	AllowUntrustedFiles bool
}

// Author writes a hardened, runnable bundle in dir around the host
// executable exe, installed at m.Command[0], as "plugbox bundle init"
// does: dir must not exist or be an empty directory the caller owns, no
// symbolic link is followed, and a failed Author leaves nothing behind. A
// nil m means DefaultManifest running exe as /bin/<its name>. It runs in
// the host's process (package bundle is pure Go) and maps the sandbox's
// ids for the calling user, as the CLI does.
func Author(dir, exe string, m *Manifest, opts AuthorOptions) error {
	init := bundle.InitOptions{Spec: bundle.CallerSpecOptions(), AllowUntrustedFiles: opts.AllowUntrustedFiles}
	goos := opts.OS
	if goos == "" {
		goos = runtime.GOOS
	}
	switch goos {
	case "linux":
		return bundle.Init(dir, exe, m, init)
	case "freebsd":
		return bundle.InitFreeBSD(dir, exe, m, init)
	}
	return fmt.Errorf("AuthorOptions.OS %q: use linux or freebsd", opts.OS)
}
