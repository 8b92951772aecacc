package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// applyKernelTCP sets linux.resources.memory.kernelTCP, which libcontainer
// v1.5.2 drops ("Kernel memory settings are ignored"), on a cgroup v1
// memory hierarchy, as crun does: memory.kmem.tcp.limit_in_bytes still
// limits the TCP buffers there. paths are the container's cgroups by
// controller. Cgroup v2 has no such limit: there it is ignored with
// libcontainer's warning, as by runc.
func applyKernelTCP(spec *specs.Spec, paths map[string]string) error {
	r := spec.Linux
	if r == nil || r.Resources == nil || r.Resources.Memory == nil || r.Resources.Memory.KernelTCP == nil { //nolint:staticcheck // the deprecated field is what this applies
		return nil
	}
	limit := *r.Resources.Memory.KernelTCP //nolint:staticcheck // as above
	dir, ok := paths["memory"]
	if !ok || dir == "" {
		return nil
	}
	file := filepath.Join(dir, "memory.kmem.tcp.limit_in_bytes")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(file, []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		return fmt.Errorf("config.json: linux.resources.memory.kernelTCP %d: %w (remove it: the limit is deprecated)", limit, err)
	}
	return nil
}

// orderDeviceRules rewrites a cgroup v1 devices hierarchy so that it holds
// the config's rules in their listed order (linux.resources.devices, then
// libcontainer's defaults for the standard devices), as crun leaves it:
// libcontainer computes the same permissions but writes them sorted (its
// device emulator), so devices.list no longer shows the order the
// runtime-spec says entries are applied in. The cgroup is reset (deny all)
// and each rule written as listed, which the kernel applies with the same
// semantics as libcontainer's emulator; the resulting list must hold the
// same entries as libcontainer's, or create fails. dir is the container's
// devices cgroup ("" on cgroup v2, where devices are an eBPF program).
func orderDeviceRules(c *configs.Config, dir string) error {
	if dir == "" || c.Cgroups == nil || c.Cgroups.Resources == nil || c.Cgroups.Resources.SkipDevices || userns.RunningInUserNS() {
		return nil
	}
	rules := c.Cgroups.Resources.Devices
	if len(rules) == 0 {
		return nil
	}
	before, err := deviceList(dir)
	if err != nil {
		return nil // no devices.list: not a v1 devices hierarchy
	}
	if err := cgroups.WriteFile(dir, "devices.deny", "a"); err != nil {
		return nil // a cgroup with children cannot be reset: keep libcontainer's
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := cgroups.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("linux.resources.devices: write %q to %s: %w", r.CgroupString(), filepath.Join(dir, file), err)
		}
	}
	after, err := deviceList(dir)
	if err != nil {
		return err
	}
	if !slices.Equal(slices.Sorted(slices.Values(before)), slices.Sorted(slices.Values(after))) {
		return fmt.Errorf("linux.resources.devices: applied in order they give %q, where libcontainer's emulator gave %q", after, before)
	}
	return nil
}

// deviceList returns the lines of dir's devices.list.
func deviceList(dir string) ([]string, error) {
	list, err := cgroups.ReadFile(dir, "devices.list")
	if err != nil {
		return nil, err
	}
	return strings.Fields(strings.ReplaceAll(list, " ", "_")), nil
}
