package monitor

import (
	"fmt"
	"os"
	"time"

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

// Broker is a container's broker as its monitor's listener process runs
// it: the transparent part, which Serve consults on every notification, and
// the explicit protocol's socket, which Serve polls beside the listener. Both
// are served by Serve's one thread, so their records go through the same
// Recorder, bounded as the rest of the log.
type Broker struct {
	host        *broker.Host
	transparent *broker.Transparent
	explicit    int // the explicit protocol's socket, -1 for none
}

// NewBroker decodes cfg; explicit is the explicit protocol's socket (nil
// for a process exec'd into the container, which has none).
func NewBroker(cfg *BrokerConfig, explicit *os.File) (*Broker, error) {
	policy, err := broker.Decode(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("broker rules: %w", err)
	}
	host := broker.NewHost(policy, nil)
	t, err := broker.NewTransparent(host, cfg.Fallback)
	if err != nil {
		return nil, err
	}
	b := &Broker{host: host, transparent: t, explicit: -1}
	if explicit != nil {
		if b.explicit, err = unix.Dup(int(explicit.Fd())); err != nil {
			return nil, fmt.Errorf("broker socket: %w", err)
		}
		unix.CloseOnExec(b.explicit)
	}
	return b, nil
}

// brokerLog is where the transparent broker records a call: the call's
// event, with the broker's decision, through the Recorder.
type brokerLog struct {
	rec   *Recorder
	event Event
	now   time.Time
}

func (l brokerLog) Record(r *broker.Record) {
	e := l.event
	e.Broker, e.Action = r, ActionRefused
	if r.Granted {
		e.Action = ActionGranted
	}
	l.rec.Call(e, l.now)
}

func (l brokerLog) Retract() { l.rec.Retract() }

// serveExplicit answers one request on the explicit socket, recording it;
// it reports whether the socket is done with.
func (b *Broker) serveExplicit(rec *Recorder) bool {
	s := &broker.Service{Host: b.host, Record: func(r broker.Record) {
		rec.Call(BrokerEvent(rec.container, r), time.Now())
	}}
	closed, err := s.ServeOne(b.explicit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugbox: broker of %s: %v\n", rec.container, err)
	}
	if closed || err != nil {
		unix.Close(b.explicit)
		b.explicit = -1
		return true
	}
	return false
}

// SyncWakeUp asks the kernel to wake the monitor on the notifying thread's
// CPU and switch to it (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6): a
// brokered call is a round trip to the monitor, and this saves a trip
// through the scheduler each way. Older kernels keep the normal wake-up.
func SyncWakeUp(listener int) {
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
}
