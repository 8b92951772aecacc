package monitor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
)

// BrokerConfig is what a container's monitor needs to run its broker.
type BrokerConfig struct {
	// Policy is the broker rules, as annotation org.plugbox.broker
	// carries them (decoded and checked again here).
	Policy string `json:"policy"`
	// Fallback is the compiled filter program (host byte order) of the
	// profile without the broker's routing: what a call no rule grants
	// gets.
	Fallback []byte `json:"fallback"`
}

// Broker is a container's broker as its monitor runs it: the transparent
// part, which Serve consults, and the explicit protocol's socket.
type Broker struct {
	host        *broker.Host
	transparent *broker.Transparent
}

// NewBroker decodes cfg.
func NewBroker(cfg *BrokerConfig) (*Broker, error) {
	policy, err := broker.Decode(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("broker rules: %w", err)
	}
	host := broker.NewHost(policy, nil)
	t, err := broker.NewTransparent(host, cfg.Fallback)
	if err != nil {
		return nil, err
	}
	return &Broker{host: host, transparent: t}, nil
}

// Transparent returns what Serve consults; nil for a nil b.
func (b *Broker) Transparent() *broker.Transparent {
	if b == nil {
		return nil
	}
	return b.transparent
}

// ServeExplicit answers the explicit protocol on sock until the plugin's
// end closes, logging each request to log as a line of its own.
func (b *Broker) ServeExplicit(sock *os.File, container string, log io.Writer) error {
	enc := json.NewEncoder(log)
	s := &broker.Service{Host: b.host, Record: func(r broker.Record) {
		_ = enc.Encode(BrokerEvent(container, r))
	}}
	return s.Serve(int(sock.Fd()))
}

// SyncWriter serialises writes to a log shared by Serve and the explicit
// protocol: each record is one Write, so lines never interleave.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W under the lock.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}

// auditArch maps libseccomp's architectures back to AUDIT_ARCH_* values.
func auditArch(a libseccomp.ScmpArch) (uint32, bool) {
	switch a {
	case libseccomp.ArchAMD64:
		return 0xc000003e, true
	case libseccomp.ArchARM64:
		return 0xc00000b7, true
	case libseccomp.ArchX86:
		return 0x40000003, true
	case libseccomp.ArchARM:
		return 0x40000028, true
	}
	return 0, false
}

// SyncWakeUp asks the kernel to wake the monitor on the notifying thread's
// CPU and switch to it (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6): a
// brokered call is a round trip to the monitor, and this saves a trip
// through the scheduler each way. Older kernels keep the normal wake-up.
func SyncWakeUp(listener int) {
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
}
