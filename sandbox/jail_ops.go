package sandbox

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The runc verbs beyond the lifecycle that a jail does not offer yet: each
// says so instead of pretending.

func (c *jailContainer) Info() (Info, error) {
	st, _, err := c.current()
	if err != nil {
		return Info{}, err
	}
	return Info{Rootfs: st.Rootfs, Created: st.Created}, nil
}

func (c *jailContainer) Exec(ExecOptions) (Process, error) {
	return nil, fmt.Errorf("exec %s: %w", c.id, ErrUnsupported)
}

func (c *jailContainer) Pause() error { return fmt.Errorf("pause %s: %w", c.id, ErrUnsupported) }

func (c *jailContainer) Resume() error { return fmt.Errorf("resume %s: %w", c.id, ErrUnsupported) }

func (c *jailContainer) Update(*specs.LinuxResources) error {
	return fmt.Errorf("update %s: %w", c.id, ErrUnsupported)
}

func (c *jailContainer) Stats() (*Stats, error) {
	return nil, fmt.Errorf("events %s: %w", c.id, ErrUnsupported)
}
