package sandbox

import (
	"testing"

	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"
)

func TestRelaxForClients(t *testing.T) {
	fifo := &config.Device{Rule: config.Rule{Type: config.FifoDevice, Major: 8, Minor: 666}, Path: "/dev/test3"}
	char := &config.Device{Rule: config.Rule{Type: config.CharDevice, Major: 1, Minor: 3}, Path: "/dev/null"}
	bind := &configs.Mount{Source: "/etc", Destination: "/mnt/etc", Flags: unix.MS_BIND, Data: "mode=755,size=1k"}
	tmpfs := &configs.Mount{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Data: "mode=755,size=1k"}
	const label = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
	c := &configs.Config{Devices: []*config.Device{fifo, char}, Mounts: []*configs.Mount{bind, tmpfs}, MountLabel: label}
	relaxForClients(c)
	if selinux.GetEnabled() && c.MountLabel != label {
		t.Errorf("SELinux is on, and the mount label became %q", c.MountLabel)
	}
	if !selinux.GetEnabled() && c.MountLabel != "" {
		t.Errorf("SELinux is off, and the mount label %q is kept (libcontainer would pass context= to every mount)", c.MountLabel)
	}
	if fifo.Major != 0 || fifo.Minor != 0 {
		t.Errorf("FIFO keeps %d:%d, want 0:0", fifo.Major, fifo.Minor)
	}
	if char.Major != 1 || char.Minor != 3 {
		t.Errorf("character device changed to %d:%d", char.Major, char.Minor)
	}
	if bind.Data != "" {
		t.Errorf("bind mount keeps data %q", bind.Data)
	}
	if tmpfs.Data != "mode=755,size=1k" {
		t.Errorf("tmpfs lost its options: %q", tmpfs.Data)
	}
}
