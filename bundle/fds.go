package bundle

import (
	"fmt"
	"strings"
)

// CheckFDs checks that a caller passes n descriptors (fd 3 on) to a
// bundle whose config.json names its descriptors: exactly one per name,
// because the plugin learns them from LISTEN_FDS and LISTEN_FDNAMES and
// another number would mislead it. A bundle that names none takes any
// number, as runc's --preserve-fds does.
func (a *Annotations) CheckFDs(n int) error {
	if a.FDNames == nil || len(a.FDNames) == n {
		return nil
	}
	return fmt.Errorf("the bundle's config.json expects %d descriptor(s) (annotation %s: %q); pass exactly those, from fd 3 on",
		len(a.FDNames), AnnotationFDNames, strings.Join(a.FDNames, ":"))
}
