package sandbox

import (
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"
)

// relaxForClients rewrites the two things in a converted config that
// libcontainer v1.5.2 refuses but runc 1.1 and crun run (and the OCI
// validation suite sends), in the way those runtimes behave:
//   - a FIFO device (type p) with major:minor numbers: mknod ignores the
//     numbers for a FIFO, and libcontainer then fails comparing them;
//   - filesystem data options (mode=, size=) on a bind mount: the kernel
//     ignores them for a bind, as runc 1.1 silently did.
func relaxForClients(c *configs.Config) {
	for _, d := range c.Devices {
		if d.Type == config.FifoDevice && (d.Major != 0 || d.Minor != 0) {
			d.Major, d.Minor = 0, 0
		}
	}
	for _, m := range c.Mounts {
		if m.IsBind() && m.Data != "" {
			logrus.Debugf("mount %s: ignoring data options %q, which a bind mount cannot apply", m.Destination, m.Data)
			m.Data = ""
		}
	}
}
