package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/jail"
	"github.com/plugbox/plugbox/monitor"
)

// On FreeBSD a container with broker rules gets them over the explicit
// protocol only (there is no seccomp listener to broker its own calls): the
// init helper passes the plugin one end of a socket pair, right after the
// descriptors the host passed (LISTEN_FDNAMES "broker"), limited as a
// socket under Capsicum; the other end is served by plugbox re-executed as
// the container's broker, outside the jail. It opens and connects with the
// host's view of the file system and network, limits each descriptor with
// cap_rights_limit to what the rule grants (the cap_fileargs model), so a
// plugin in capability mode gets exactly that, and logs each grant and
// refusal to the violation log. It ends when the plugin's end is closed.

// FreeBSDBrokerArg is the hidden first argument with which Create
// re-executes the plugbox binary as a container's broker. main must call
// FreeBSDBrokerMain when os.Args[1] == FreeBSDBrokerArg.
const FreeBSDBrokerArg = "jail-broker"

// jailBrokerEnv carries the broker rules (annotation org.plugbox.broker)
// to that process; its descriptor 3 is its end of the plugin's socket.
const jailBrokerEnv = "_PLUGBOX_JAIL_BROKER"

// jailBrokerCommand is the command that runs exe as container id's broker,
// logging to logPath, with sock as descriptor 3, in its own session.
func jailBrokerCommand(exe, id, logPath, rules string, sock *os.File) *exec.Cmd {
	cmd := exec.Command(exe, FreeBSDBrokerArg, id, logPath)
	cmd.Env = []string{jailBrokerEnv + "=" + rules}
	cmd.ExtraFiles = []*os.File{sock}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// startBroker starts container id's broker for policy and returns the
// plugin's end of its socket (close-on-exec; the helper gets it through
// ExtraFiles) and the broker process.
func (b *jailBackend) startBroker(id, dir string, policy *broker.Policy) (*os.File, jail.Process, error) {
	exe, err := b.executable()
	if err != nil {
		return nil, nil, err
	}
	rules, err := policy.Encode()
	if err != nil {
		return nil, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("broker socket pair: %w", err)
	}
	plugin, own := os.NewFile(uintptr(fds[0]), "broker-plugin-end"), os.NewFile(uintptr(fds[1]), "broker-own-end")
	defer own.Close()
	proc, err := b.sys.StartProcess(jailBrokerCommand(exe, id, filepath.Join(dir, ViolationLogName), rules, own))
	if err != nil {
		plugin.Close()
		return nil, nil, fmt.Errorf("start broker: %w", err)
	}
	return plugin, proc, nil
}

// executable is the plugbox binary the backend re-executes.
func (b *jailBackend) executable() (string, error) {
	if b.exe != "" {
		return b.exe, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find plugbox binary: %w", err)
	}
	return exe, nil
}

// jailBrokerMain is the broker process: the rules from jailBrokerEnv, the
// socket on descriptor 3, the log named by its arguments.
func jailBrokerMain(s jail.Sys) error {
	if len(os.Args) != 4 {
		return errors.New("usage: jail-broker ID LOG (this command is run by plugbox create, not by hand)")
	}
	policy, err := broker.Decode(os.Getenv(jailBrokerEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", jailBrokerEnv, err)
	}
	log, err := os.OpenFile(os.Args[3], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	return jailBrokerServe(s, 3, policy, os.Args[2], log)
}

// jailBrokerServe answers the explicit protocol on sock for container id,
// limiting every descriptor through s before it is sent.
func jailBrokerServe(s jail.Sys, sock int, policy *broker.Policy, id string, log io.Writer) error {
	host := broker.NewHost(policy, jailBrokerLimiter(s))
	defer host.Close()
	enc := json.NewEncoder(log)
	svc := &broker.Service{Host: host, Record: func(r broker.Record) {
		_ = enc.Encode(monitor.BrokerEvent(id, r))
	}}
	return svc.Serve(sock)
}

// jailBrokerLimiter narrows a brokered descriptor to the Capsicum rights of
// its kind and access (jail.LimitsFor): a file of a read rule can be read,
// seeked and mapped for reading, never written, and opens nothing relative
// to itself (no CAP_LOOKUP).
func jailBrokerLimiter(s jail.Sys) broker.Limiter {
	return func(fd int, kind string, read, write bool) error {
		k, mode := jail.FDFile, jail.ReadOnly
		switch {
		case kind == "socket":
			k, mode = jail.FDSocket, jail.ReadWrite
		case read && write:
			mode = jail.ReadWrite
		case write:
			mode = jail.WriteOnly
		}
		l, err := jail.LimitsFor(k, mode)
		if err != nil {
			return err
		}
		return jailLimit(s, fd, l)
	}
}

// jailLimit applies l to fd: its rights, then the fcntl commands and
// ioctls CAP_FCNTL and CAP_IOCTL are narrowed to.
func jailLimit(s jail.Sys, fd int, l jail.FDLimits) error {
	if err := s.CapRightsLimit(fd, l.Rights); err != nil {
		return fmt.Errorf("cap_rights_limit fd %d: %w", fd, err)
	}
	if l.Rights.Has(jail.CapFcntl) {
		if err := s.CapFcntlsLimit(fd, l.Fcntls); err != nil {
			return fmt.Errorf("cap_fcntls_limit fd %d: %w", fd, err)
		}
	}
	if l.Ioctls != nil {
		if err := s.CapIoctlsLimit(fd, l.Ioctls); err != nil {
			return fmt.Errorf("cap_ioctls_limit fd %d: %w", fd, err)
		}
	}
	return nil
}
