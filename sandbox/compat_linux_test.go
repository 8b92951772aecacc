package sandbox

import (
	"testing"

	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

func TestRelaxForClients(t *testing.T) {
	fifo := &config.Device{Rule: config.Rule{Type: config.FifoDevice, Major: 8, Minor: 666}, Path: "/dev/test3"}
	char := &config.Device{Rule: config.Rule{Type: config.CharDevice, Major: 1, Minor: 3}, Path: "/dev/null"}
	bind := &configs.Mount{Source: "/etc", Destination: "/mnt/etc", Flags: unix.MS_BIND, Data: "mode=755,size=1k"}
	tmpfs := &configs.Mount{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Data: "mode=755,size=1k"}
	c := &configs.Config{Devices: []*config.Device{fifo, char}, Mounts: []*configs.Mount{bind, tmpfs}}
	relaxForClients(c)
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
