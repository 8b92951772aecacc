package sandbox

import (
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"github.com/sirupsen/logrus"
)

// relaxForClients rewrites the things in a converted config that
// libcontainer v1.5.2 refuses or fails on but crun (and, for the first
// two, runc 1.1) runs, and the OCI validation suite sends, in the way those
// runtimes behave:
//   - a FIFO device (type p) with major:minor numbers: mknod ignores the
//     numbers for a FIFO, and libcontainer then fails comparing them;
//   - filesystem data options (mode=, size=) on a bind mount: the kernel
//     ignores them for a bind, as runc 1.1 silently did;
//   - linux.mountLabel on a host without SELinux: libcontainer adds
//     context="..." to every mount's options, which such a kernel refuses
//     (EINVAL); with no SELinux there is no label to apply, and crun
//     leaves it out.
func relaxForClients(c *configs.Config) {
	if c.MountLabel != "" && !selinux.GetEnabled() {
		logrus.Debugf("linux.mountLabel %q: ignored, this host has no SELinux", c.MountLabel)
		c.MountLabel = ""
	}
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
