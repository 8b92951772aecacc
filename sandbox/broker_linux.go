package sandbox

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/internal/shimplan"
	"github.com/plugbox/plugbox/monitor"
	"github.com/plugbox/plugbox/seccompgen"
)

// A container with broker rules (annotation org.plugbox.broker) gets them
// two ways, both served by its monitor's listener process (monitor.Config
// Broker and BrokerSocket): its filter sends open, openat, openat2 and
// connect to the seccomp listener, whatever their arguments
// (seccompgen.WithBroker), where the broker answers them (package broker);
// and its init gets one end of a socket pair, right after the descriptors
// the host passed, for the explicit protocol (LISTEN_FDNAMES "broker").

// planBroker takes the broker rules of a bundle and returns the profile the
// shim loads (the broker's calls routed to the listener) and the monitor's
// configuration; profile is returned as it is when there are no rules.
func planBroker(root string, policy *broker.Policy, profile *specs.LinuxSeccomp) (*specs.LinuxSeccomp, *monitor.BrokerConfig, string, error) {
	if policy.IsZero() {
		return profile, nil, "", nil
	}
	if profile == nil {
		return nil, nil, "", fmt.Errorf("config.json: annotation %s needs a linux.seccomp profile, through which the plugin's open and connect reach the broker (plugbox bundle init writes one)", bundle.AnnotationBroker)
	}
	routed, err := seccompgen.WithBroker(profile, seccompgen.BrokerCalls(len(policy.Open) > 0, len(policy.Connect) > 0))
	if err != nil {
		return nil, nil, "", fmt.Errorf("config.json: annotation %s: %w", bundle.AnnotationBroker, err)
	}
	fallback, err := shimplan.CompileCached(root, profile)
	if err != nil {
		return nil, nil, "", fmt.Errorf("config.json: linux.seccomp: %w", err)
	}
	raw, err := policy.Encode()
	if err != nil {
		return nil, nil, "", err
	}
	summary := fmt.Sprintf("open %d, connect %d", len(policy.Open), len(policy.Connect))
	return routed, &monitor.BrokerConfig{Policy: raw, Fallback: fallback}, summary, nil
}

// brokerSocket makes the explicit protocol's socket pair and appends the
// plugin's end to process.ExtraFiles (so that it follows the descriptors
// the host passed); the other end is the monitor's.
func brokerSocket(process *libcontainer.Process) (plugin, own *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("broker socket pair: %w", err)
	}
	plugin, own = os.NewFile(uintptr(fds[0]), "broker-plugin-end"), os.NewFile(uintptr(fds[1]), "broker-own-end")
	process.ExtraFiles = append(process.ExtraFiles, plugin)
	return plugin, own, nil
}
