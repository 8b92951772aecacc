package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// attackSyscalls are the permission groups the attack manifests ask for:
// the broadest ones, so that what the tests see refused is refused by the
// layer under test and not merely left out of a narrow allowlist (open for
// writing is allowed, so a read-only root must refuse it; fork is allowed,
// so the pids limit must stop a fork bomb; sockets are allowed, so the
// network setting must restrict their families).
var attackSyscalls = []string{"fs-write", "process", "threads", "net-server", "time"}

// seccompDenied lists the probes the profile must answer with EPERM (the
// "errno" violation action) even with attackSyscalls granted.
var seccompDenied = []string{
	"ptrace.traceme", "bpf.map_create", "keyctl.get_keyring_id", "add_key",
	"mount", "umount2", "chroot", "pivot_root", "swapon",
	"unshare.newuser", "unshare.newns", "clone.newnet", "clone.newuser", "setns.net",
	"userfaultfd", "perf_event_open", "init_module", "finit_module", "kexec_load",
	"sethostname", "reboot", "syslog", "io_uring_setup", "process_vm_readv",
	"socket.netlink", "socket.packet", "ioctl.tiocsti.stdin", "personality.read_implies_exec",
}

// hostOK lists probes that must succeed on the host as root: each proves
// its probe really makes the call the sandbox has to refuse.
var hostOK = []string{
	"ptrace.traceme", "unshare.newuser", "unshare.newns", "clone.newnet", "clone.newuser",
	"setns.net", "socket.inet", "socket.inet6", "socket.netlink", "personality.read_implies_exec",
	"process_vm_readv", "userfaultfd", "keyctl.get_keyring_id", "add_key", "syslog",
	"getpid", "socket.unix", "personality.query",
}

// fd3Content is what the test passes the plugin as its "input" descriptor.
const fd3Content = "plugbox-fd3-input"

// layerEnv is what TestLayers' runs share.
type layerEnv struct {
	plugbox, work, attack string
	readDir, readFile     string
	writeDir, secretDir   string
	absent                []string
}

func newLayerEnv(t *testing.T) *layerEnv {
	t.Helper()
	e := &layerEnv{plugbox: plugboxBinary(t), work: workDir(t)}
	e.attack = buildAttack(t, e.work)
	e.readDir = filepath.Join(e.work, "read")
	e.writeDir = filepath.Join(e.work, "write")
	e.secretDir = filepath.Join(e.work, "secret")
	for _, d := range []string{e.readDir, e.writeDir, e.secretDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.readFile = filepath.Join(e.readDir, "data.txt")
	if err := os.WriteFile(e.readFile, []byte("readable by the plugin\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	// World-writable by mode: only the read-only bind may stop a write.
	if err := os.Chmod(e.readFile, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.secretDir, "secret.txt"), []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.absent = []string{e.secretDir, filepath.Join(e.secretDir, "secret.txt"), "/root", "/home", "/var/lib", "/usr/bin", "/etc/hostname"}
	return e
}

// probeManifest is the manifest of a probe run with the given network and
// Landlock settings.
func (e *layerEnv) probeManifest(network, landlock string) manifest {
	args := []string{"/attack", "probe", "-read", e.readFile, "-write", e.writeDir, "-absent", strings.Join(e.absent, ",")}
	if network == "loopback" {
		args = append(args, "-outside")
	}
	return manifest{
		Name:     "attack",
		Command:  args,
		Read:     []string{e.readDir},
		Write:    []string{e.writeDir},
		Network:  network,
		Syscalls: attackSyscalls,
		Landlock: landlock,
		Limits:   map[string]any{"pids": 32, "memory": "64M"},
		FDs:      []string{"input"},
		// Dumpable, so that only Landlock stands between the plugin and
		// its own /proc/self files (an execute-only plugin does not own them).
		ReadableExecutable: true,
	}
}

// probeRun authors a bundle from m and runs it with the fd 3 input file.
func (e *layerEnv) probeRun(t *testing.T, name string, m manifest) *runResult {
	t.Helper()
	b := initBundle(t, e.plugbox, e.work, name, e.attack, m)
	// The plugin writes as its mapped host uid: give it the write dir.
	if err := os.Chown(e.writeDir, b.hostUID, b.hostGID); err != nil {
		t.Fatal(err)
	}
	f := openFD3(t, filepath.Join(e.work, name, "fd3"))
	r := b.run(t, fmt.Sprintf("plugbox-layers-%d-%s", os.Getpid(), name), f)
	if r.err != nil {
		t.Errorf("plugbox run of the %s bundle failed: %v", name, r.err)
	}
	if _, ok := r.probes["done"]; !ok {
		t.Errorf("the attack program did not finish its probes (crashed or killed, perhaps by a syscall the Go runtime needs); stderr:\n%s", r.stderr)
	}
	return r
}

// want checks that probe name's result satisfies ok, describing the
// expectation in the failure.
func want(t *testing.T, r *runResult, name, expect string, ok func(string) bool) {
	t.Helper()
	got := r.probe(t, name)
	if !ok(got) {
		t.Errorf("probe %s: want %s, got %q", name, expect, got)
	}
}

func is(v string) func(string) bool { return func(s string) bool { return s == v } }

func hasPrefix(p string) func(string) bool {
	return func(s string) bool { return s == p || strings.HasPrefix(s, p+" ") }
}

// deniedWith accepts "denied E ..." for any E in errnos.
func deniedWith(errnos ...string) func(string) bool {
	return func(s string) bool { return slices.Contains(errnos, errnoOf(s)) }
}

func notReadable(s string) bool {
	return s == "absent" || s == "empty" || strings.HasPrefix(s, "denied ")
}

// TestLayers runs the attack program in plugbox-authored bundles and checks
// that each hardening layer holds: capabilities, no_new_privs, seccomp,
// mounts and masks, binds, Landlock, descriptors, network and limits.
func TestLayers(t *testing.T) {
	e := newLayerEnv(t)
	r := e.probeRun(t, "none", e.probeManifest("none", ""))

	t.Run("caps", func(t *testing.T) {
		for _, set := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"} {
			t.Run(set+" empty", func(t *testing.T) {
				want(t, r, "status."+set, "value 0000000000000000", is("value 0000000000000000"))
			})
		}
	})
	t.Run("no_new_privs set", func(t *testing.T) {
		want(t, r, "status.NoNewPrivs", "value 1", is("value 1"))
	})
	t.Run("identity not root", func(t *testing.T) {
		want(t, r, "status.Uid", "a non-zero uid", func(s string) bool {
			return strings.HasPrefix(s, "value ") && !strings.Contains(","+strings.TrimPrefix(s, "value ")+",", ",0,")
		})
	})
	t.Run("seccomp", func(t *testing.T) {
		t.Run("mode filter", func(t *testing.T) {
			want(t, r, "status.Seccomp", "value 2", is("value 2"))
		})
		for _, name := range seccompDenied {
			t.Run(name+" denied", func(t *testing.T) {
				want(t, r, name, "denied EPERM", hasPrefix("denied EPERM"))
			})
		}
		t.Run("socket.inet denied under network none", func(t *testing.T) {
			want(t, r, "socket.inet", "denied EPERM or EAFNOSUPPORT", deniedWith("EPERM", "EAFNOSUPPORT", "EACCES"))
		})
		t.Run("socket.inet6 denied under network none", func(t *testing.T) {
			want(t, r, "socket.inet6", "denied EPERM or EAFNOSUPPORT", deniedWith("EPERM", "EAFNOSUPPORT", "EACCES"))
		})
		t.Run("ioctl TIOCSTI on a pty denied", func(t *testing.T) {
			want(t, r, "ioctl.tiocsti.pty", "denied", hasPrefix("denied"))
		})
		t.Run("clone3 answered ENOSYS", func(t *testing.T) {
			want(t, r, "clone3", "denied ENOSYS", is("denied ENOSYS"))
		})
		// The profile is not deny-all: ordinary calls still work.
		for _, name := range []string{"getpid", "personality.query", "socket.unix"} {
			t.Run(name+" allowed", func(t *testing.T) { want(t, r, name, "ok", is("ok")) })
		}
	})
	// An x32 call must be refused: ENOSYS or EPERM, or the whole process
	// killed by SIGSYS (exit 128+31). Killing only the calling thread would
	// leave a Go program hung with a zombie main thread. Both seccomp paths:
	// "errno" loads the filter with plugbox's listener, "kill" through
	// libcontainer.
	for _, onViolation := range []string{"errno", "kill"} {
		t.Run("seccomp/x32 syscall refused (onViolation "+onViolation+")", func(t *testing.T) {
			m := manifest{Name: "x32", Command: []string{"/attack", "x32"}, Syscalls: attackSyscalls,
				OnViolation: onViolation, Limits: map[string]any{"pids": 32, "memory": "64M", "timeout": "10s"}}
			b := initBundle(t, e.plugbox, e.work, "x32-"+onViolation, e.attack, m)
			b.timeout = 30 * time.Second // thrice the manifest's own limit
			xr := b.run(t, fmt.Sprintf("plugbox-layers-%d-x32-%s", os.Getpid(), onViolation))
			want(t, xr, "x32.start", "ok", is("ok"))
			got, printed := xr.probes["x32.getpid"]
			switch {
			case printed && (deniedWith("ENOSYS", "EPERM")(got) || strings.HasPrefix(got, "skipped")):
				t.Logf("x32 getpid: %s", got)
			case printed:
				t.Errorf("probe x32.getpid: want denied ENOSYS or EPERM, or the process killed by SIGSYS; got %q", got)
			case xr.exitCode() == 128+31:
				t.Logf("x32 getpid: process killed by SIGSYS")
			default:
				t.Errorf("probe x32.getpid: want denied ENOSYS or EPERM, or the process killed by SIGSYS (exit 159); got no result and run error %v (exit %d; a hang here means only the thread was killed)", xr.err, xr.exitCode())
			}
		})
	}
	t.Run("mounts", func(t *testing.T) {
		for _, name := range []string{"fs.root.create", "fs.root.mkdir", "fs.root.write-exe"} {
			t.Run(name+" read-only root", func(t *testing.T) {
				want(t, r, name, "denied EROFS or EACCES", deniedWith("EROFS", "EACCES", "ETXTBSY"))
			})
		}
		for _, name := range []string{"fs.procsys.hostname", "fs.procsys.core_pattern"} {
			t.Run(name+" not writable", func(t *testing.T) {
				want(t, r, name, "denied EROFS or EACCES", deniedWith("EROFS", "EACCES"))
			})
		}
		// Kernels without CONFIG_MAGIC_SYSRQ have no sysrq-trigger at all.
		t.Run("fs.sysrq-trigger not writable", func(t *testing.T) {
			want(t, r, "fs.sysrq-trigger", "denied EROFS, EACCES or ENOENT", deniedWith("EROFS", "EACCES", "ENOENT"))
		})
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/interrupts", "/sys/firmware"} {
			t.Run("mask "+p, func(t *testing.T) {
				want(t, r, "mask."+p, "absent, empty or denied", notReadable)
			})
		}
		t.Run("no /sys", func(t *testing.T) { want(t, r, "fs.sys", "absent or empty", notReadable) })
		t.Run("tmp writable", func(t *testing.T) { want(t, r, "tmp.create", "ok", is("ok")) })
		t.Run("dev/shm writable", func(t *testing.T) { want(t, r, "devshm.create", "ok", is("ok")) })
	})
	t.Run("host files invisible", func(t *testing.T) {
		for _, p := range append([]string{"/etc/shadow"}, e.absent...) {
			t.Run(p, func(t *testing.T) { want(t, r, "host."+p, "absent", is("absent")) })
		}
	})
	t.Run("read dir", func(t *testing.T) {
		t.Run("file readable", func(t *testing.T) {
			want(t, r, "read.file", "ok with the host content", is("ok "+strconv.Quote("readable by the plugin\n")))
		})
		t.Run("file not writable", func(t *testing.T) {
			want(t, r, "read.write", "denied EROFS or EACCES", deniedWith("EROFS", "EACCES"))
		})
		t.Run("no new files", func(t *testing.T) {
			want(t, r, "read.create", "denied EROFS or EACCES", deniedWith("EROFS", "EACCES"))
		})
	})
	t.Run("write dir", func(t *testing.T) {
		t.Run("writable", func(t *testing.T) {
			want(t, r, "write.create", "ok", is("ok"))
			data, err := os.ReadFile(filepath.Join(e.writeDir, "from-sandbox.txt"))
			if err != nil || string(data) != "written by the attack program\n" {
				t.Errorf("the host does not see the plugin's file in the write dir: %q, %v", data, err)
			}
		})
		t.Run("noexec", func(t *testing.T) {
			want(t, r, "write.exec", "denied EACCES", is("denied EACCES"))
		})
	})
	t.Run("landlock", func(t *testing.T) {
		for _, name := range []string{"landlock.proc-self-comm", "landlock.proc-self-oom_score_adj", "landlock.mqueue-create"} {
			t.Run(name+" denied", func(t *testing.T) {
				want(t, r, name, "denied EACCES", is("denied EACCES"))
			})
		}
	})
	t.Run("fds", func(t *testing.T) {
		t.Run("only stdio and the declared one open", func(t *testing.T) {
			want(t, r, "fds", "value 0,1,2,3", is("value 0,1,2,3"))
		})
		t.Run("fd 3 is the input", func(t *testing.T) {
			want(t, r, "fd.3", "ok "+strconv.Quote(fd3Content), is("ok "+strconv.Quote(fd3Content)))
		})
		t.Run("LISTEN_FDS", func(t *testing.T) { want(t, r, "env.LISTEN_FDS", "value 1", is("value 1")) })
		t.Run("LISTEN_FDNAMES", func(t *testing.T) { want(t, r, "env.LISTEN_FDNAMES", "value input", is("value input")) })
		t.Run("LISTEN_PID", func(t *testing.T) { want(t, r, "env.LISTEN_PID", "value 1", is("value 1")) })
	})
	t.Run("network none", func(t *testing.T) {
		t.Run("only lo", func(t *testing.T) { want(t, r, "net.interfaces", "value lo", is("value lo")) })
		t.Run("no TCP even on loopback", func(t *testing.T) {
			want(t, r, "net.loopback.tcp", "denied at socket", func(s string) bool {
				return strings.HasPrefix(s, "denied ") && strings.HasSuffix(s, " socket")
			})
		})
	})

	t.Run("network loopback", func(t *testing.T) {
		lr := e.probeRun(t, "loopback", e.probeManifest("loopback", ""))
		t.Run("socket.inet allowed", func(t *testing.T) { want(t, lr, "socket.inet", "ok", is("ok")) })
		t.Run("tcp on 127.0.0.1 works", func(t *testing.T) { want(t, lr, "net.loopback.tcp", "ok", is("ok")) })
		t.Run("only lo", func(t *testing.T) { want(t, lr, "net.interfaces", "value lo", is("value lo")) })
		t.Run("outside unreachable at once", func(t *testing.T) {
			want(t, lr, "net.outside.connect", "denied ENETUNREACH within 1s", func(s string) bool {
				if errnoOf(s) != "ENETUNREACH" {
					return false
				}
				f := strings.Fields(s)
				ms, err := strconv.Atoi(strings.TrimSuffix(f[len(f)-1], "ms"))
				return err == nil && ms < 1000
			})
		})
		t.Run("netlink still denied", func(t *testing.T) { want(t, lr, "socket.netlink", "denied EPERM", hasPrefix("denied EPERM")) })
		t.Run("seccomp still on", func(t *testing.T) { want(t, lr, "status.Seccomp", "value 2", is("value 2")) })
	})

	// Control: the same bundle without Landlock must let the plugin write
	// /proc/self/comm and create in /dev/mqueue, proving that the denials
	// above are Landlock's.
	t.Run("landlock off control", func(t *testing.T) {
		or := e.probeRun(t, "landlock-off", e.probeManifest("none", "off"))
		want(t, or, "landlock.proc-self-comm", "ok without Landlock", is("ok"))
		want(t, or, "landlock.proc-self-oom_score_adj", "ok without Landlock", is("ok"))
		want(t, or, "landlock.mqueue-create", "ok without Landlock", is("ok"))
	})

	t.Run("limits", func(t *testing.T) {
		const pids = 32
		t.Run("fork bomb stopped by pids limit", func(t *testing.T) {
			m := manifest{Name: "forkbomb", Command: []string{"/attack", "forkbomb", "1000"},
				Syscalls: attackSyscalls, Limits: map[string]any{"pids": pids, "memory": "64M"}}
			b := initBundle(t, e.plugbox, e.work, "forkbomb", e.attack, m)
			fr := b.run(t, fmt.Sprintf("plugbox-layers-%d-forkbomb", os.Getpid()))
			got := fr.probe(t, "forkbomb")
			var forked int
			if !strings.HasPrefix(got, "stopped EAGAIN ") {
				t.Fatalf("probe forkbomb: want stopped EAGAIN with fewer than %d forks, got %q", pids, got)
			}
			for _, f := range strings.Fields(got) {
				if v, ok := strings.CutPrefix(f, "forked="); ok {
					forked, _ = strconv.Atoi(v)
				}
			}
			if forked < 1 || forked >= pids {
				t.Errorf("probe forkbomb: want 1 to %d forks before EAGAIN, got %q", pids-1, got)
			}
			t.Logf("fork bomb: %d forks succeeded under pids %d", forked, pids)
		})
		t.Run("memory hog killed by memory limit", func(t *testing.T) {
			const limitMB = 64
			m := manifest{Name: "memhog", Command: []string{"/attack", "memhog", "1024"},
				Syscalls: attackSyscalls, Limits: map[string]any{"pids": pids, "memory": fmt.Sprintf("%dM", limitMB), "tmp": "1M"}}
			b := initBundle(t, e.plugbox, e.work, "memhog", e.attack, m)
			mr := b.run(t, fmt.Sprintf("plugbox-layers-%d-memhog", os.Getpid()))
			got := mr.probe(t, "memhog")
			if !strings.HasPrefix(got, "killed SIGKILL ") {
				t.Fatalf("probe memhog: want the child killed by SIGKILL below %d MiB, got %q", limitMB, got)
			}
			var mb int
			for _, f := range strings.Fields(got) {
				if v, ok := strings.CutPrefix(f, "mb="); ok {
					mb, _ = strconv.Atoi(v)
				}
			}
			if mb >= limitMB {
				t.Errorf("probe memhog: the child touched %d MiB under a %d MiB limit", mb, limitMB)
			}
			t.Logf("memory hog: killed after %d MiB under %d MiB", mb, limitMB)
		})
	})
}

// TestAttackProbesOnHost is the control for TestLayers: run directly on the
// host as root, the probes that the sandbox must refuse succeed (or fail
// with a different errno), so a refusal in the sandbox is the sandbox's.
func TestAttackProbesOnHost(t *testing.T) {
	requireRoot(t)
	work := workDir(t)
	attack := buildAttack(t, work)
	f := openFD3(t, filepath.Join(work, "fd3"))
	// No filesystem probes (they would write to the host's / and /proc/sys)
	// and no outside connect.
	cmd := exec.Command(attack, "probe", "-fs=false")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("attack probe on the host: %v\n%s", err, out)
	}
	t.Logf("host probes:\n%s", out)
	r := &runResult{stdout: string(out), probes: parseProbes(string(out))}
	for _, name := range hostOK {
		t.Run(name+" ok on host", func(t *testing.T) { want(t, r, name, "ok", is("ok")) })
	}
	t.Run("CapEff not empty on host", func(t *testing.T) {
		want(t, r, "status.CapEff", "a non-zero set", func(s string) bool { return s != "value 0000000000000000" })
	})
	t.Run("fd 3 read on host", func(t *testing.T) {
		want(t, r, "fd.3", "ok "+strconv.Quote(fd3Content), is("ok "+strconv.Quote(fd3Content)))
	})
	// Every seccomp probe must discriminate: on the host it gives something
	// other than the sandbox's EPERM.
	for _, name := range seccompDenied {
		t.Run(name+" not EPERM on host", func(t *testing.T) {
			want(t, r, name, "anything but denied EPERM", func(s string) bool { return errnoOf(s) != "EPERM" })
		})
	}
	t.Run("tcp on 127.0.0.1 works on host", func(t *testing.T) { want(t, r, "net.loopback.tcp", "ok", is("ok")) })
}

// openFD3 writes fd3Content to path and opens it for reading, as the
// descriptor the host passes to the plugin; it is closed when t ends.
func openFD3(t *testing.T, path string) *os.File {
	t.Helper()
	if err := os.WriteFile(path, []byte(fd3Content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
