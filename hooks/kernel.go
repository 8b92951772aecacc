package hooks

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plugbox/plugbox/seccompgen"
)

// KernelRecord is one call the kernel reported a container's seccomp
// filter acting on: a line of the record hook's output.
type KernelRecord struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	// Pid is the host pid of the calling process (its thread group).
	Pid  int    `json:"pid"`
	Comm string `json:"comm,omitempty"`
	Exe  string `json:"exe,omitempty"`
	// Arch is "amd64", "arm64", or the AUDIT_ARCH_* value in hex.
	Arch    string `json:"arch"`
	Syscall string `json:"syscall"`
	Nr      int    `json:"nr"`
	// Action is what the filter did: "killed" (the process),
	// "killed-thread", "trapped", "denied" (an errno: the kernel's record
	// does not say which), "logged" (it ran), "notified" (sent to a
	// listener) or "traced".
	Action string `json:"action"`
	// Signal is the signal the kernel sent (SIGSYS, 31, for kills and traps).
	Signal int `json:"signal,omitempty"`
	// Source is always "kernel": the record comes from the kernel's audit
	// log, not from plugbox's monitor.
	Source string `json:"source"`
}

// String renders the record as one line, like a violation log's.
func (r KernelRecord) String() string {
	return fmt.Sprintf("%s %s pid %d (%s) %s %s %s (kernel)", r.Time.Format(time.RFC3339Nano), r.Container, r.Pid, r.Comm, r.Arch, r.Syscall, r.Action)
}

// Kinds of Notice.
const (
	// NoticeRecording opens every output: what is recorded, and what
	// cannot be (Message).
	NoticeRecording = "recording"
	// NoticeSuppressed: the kernel's printk rate limit dropped Count
	// messages (audit records of any process among them).
	NoticeSuppressed = "suppressed"
	// NoticeLost: records or process events were lost (Message says which).
	NoticeLost = "lost"
)

// Notice is a line about the recording itself.
type Notice struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Kind      string    `json:"notice"`
	Count     int       `json:"count,omitempty"`
	Message   string    `json:"message"`
}

// auditRecord is a seccomp audit record (AUDIT_SECCOMP, type 1326) as the
// kernel prints it without auditd:
//
//	audit: type=1326 audit(1796160954.533:106): auid=4294967295 uid=101000
//	gid=101000 ses=4294967295 pid=3757 comm="plugin" exe="/bin/plugin"
//	sig=31 arch=c000003e syscall=141 compat=0 ip=0x43cf09 code=0x80000000
type auditRecord struct {
	time   time.Time
	pid    int
	comm   string
	exe    string
	sig    int
	arch   uint32
	nr     int
	compat bool
	code   uint32
}

// parseKmsg parses one /dev/kmsg record ("PRIO,SEQ,USEC,FLAGS;MESSAGE"):
// a seccomp audit record, or the count of messages the printk rate limit
// suppressed ("kauditd_printk_skb: N callbacks suppressed").
func parseKmsg(line string) (rec *auditRecord, suppressed int) {
	_, msg, ok := strings.Cut(line, ";")
	if !ok {
		return nil, 0
	}
	msg, _, _ = strings.Cut(msg, "\n")
	if rest, ok := strings.CutPrefix(msg, "kauditd_printk_skb: "); ok {
		if n, _, ok := strings.Cut(rest, " callbacks suppressed"); ok {
			v, _ := strconv.Atoi(n)
			return nil, v
		}
		return nil, 0
	}
	body, ok := strings.CutPrefix(msg, "audit: type=1326 ")
	if !ok {
		return nil, 0
	}
	r, err := parseAudit(body)
	if err != nil {
		return nil, 0
	}
	return r, 0
}

// parseAudit parses the part after "type=1326 ".
func parseAudit(body string) (*auditRecord, error) {
	stamp, fields, ok := strings.Cut(body, "): ")
	if !ok || !strings.HasPrefix(stamp, "audit(") {
		return nil, fmt.Errorf("no audit(...) stamp")
	}
	r := &auditRecord{}
	if secs, _, ok := strings.Cut(strings.TrimPrefix(stamp, "audit("), ":"); ok {
		if f, err := strconv.ParseFloat(secs, 64); err == nil {
			r.time = time.UnixMilli(int64(f * 1000)).UTC()
		}
	}
	kv := auditFields(fields)
	var err error
	num := func(key string, base int) uint64 {
		v, e := strconv.ParseUint(strings.TrimPrefix(kv[key], "0x"), base, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("field %s=%q: %w", key, kv[key], e)
		}
		return v
	}
	r.pid = int(num("pid", 10))
	r.sig = int(num("sig", 10))
	r.arch = uint32(num("arch", 16))
	r.nr = int(num("syscall", 10))
	r.code = uint32(num("code", 16))
	r.compat = kv["compat"] == "1"
	r.comm, r.exe = kv["comm"], kv["exe"]
	if err != nil {
		return nil, err
	}
	return r, nil
}

// auditFields splits key=value pairs; a value is "quoted" or runs to the
// next space (the kernel prints unsafe strings as hex, unquoted).
func auditFields(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, " ")
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				val, rest = rest[1:], ""
			} else {
				val, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		out[key] = val
		s = rest
	}
	return out
}

// SECCOMP_RET_* action values in an audit record's code.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retActionFull  = 0xffff0000
)

// kernelRecord describes r for container id.
func (r *auditRecord) kernelRecord(id string) KernelRecord {
	k := KernelRecord{Time: r.time, Container: id, Pid: r.pid, Comm: r.comm, Exe: r.exe, Nr: r.nr, Signal: r.sig, Source: "kernel"}
	goarch := seccompgen.GoarchOfAudit(r.arch)
	k.Arch = goarch
	if goarch == "" {
		k.Arch = fmt.Sprintf("audit-arch-%#x", r.arch)
	}
	if name, ok := seccompgen.NameOf(goarch, r.nr); ok && !r.compat {
		k.Syscall = name
	} else {
		k.Syscall = "syscall_" + strconv.Itoa(r.nr)
	}
	switch r.code & retActionFull {
	case retKillProcess:
		k.Action = "killed"
	case retKillThread:
		k.Action = "killed-thread"
	case retTrap:
		k.Action = "trapped"
	case retErrno:
		// The kernel's record carries the action, not its errno.
		k.Action = "denied"
	case retUserNotif:
		k.Action = "notified"
	case retTrace:
		k.Action = "traced"
	case retLog:
		k.Action = "logged"
	case retAllow:
		k.Action = "allowed"
	default:
		k.Action = fmt.Sprintf("code-%#x", r.code)
	}
	return k
}
