package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/monitor"
)

// The verbs beyond create/start/kill/delete that podman, containerd and
// the OCI suite call: exec, pause, resume, update, events. Each is one
// libcontainer call; what plugbox adds is that an exec'd process of a
// plugbox sandbox goes through the same exec shim as the plugin.

func (lc *linuxContainer) Info() (Info, error) {
	st, err := lc.c.State()
	if err != nil {
		return Info{}, fmt.Errorf("state %s: %w", lc.ID(), err)
	}
	info := Info{Rootfs: st.Config.Rootfs, Created: st.Created}
	// runc reports the owner of the state directory, the creator.
	if fi, err := os.Stat(lc.dir()); err == nil {
		uid := fi.Sys().(*syscall.Stat_t).Uid
		info.Owner = strconv.Itoa(int(uid))
		if u, err := user.LookupId(info.Owner); err == nil {
			info.Owner = u.Username
		}
	}
	return info, nil
}

func (lc *linuxContainer) Exec(opts ExecOptions) (Process, error) {
	s, err := lc.status()
	if err != nil {
		return nil, err
	}
	switch {
	case s == libcontainer.Stopped:
		return nil, fmt.Errorf("exec %s: %w", lc.ID(), ErrNotRunning)
	case s == libcontainer.Paused && !opts.IgnorePaused:
		return nil, fmt.Errorf("exec %s: %w (resume it, or pass --ignore-paused)", lc.ID(), ErrPaused)
	}
	if opts.Detach && opts.Process.Terminal && opts.ConsoleSocket == "" {
		return nil, errors.New(`exec --tty --detach needs --console-socket to receive the pty`)
	}
	if (!opts.Detach || !opts.Process.Terminal) && opts.ConsoleSocket != "" {
		return nil, errors.New(`exec --console-socket needs --tty and --detach`)
	}
	plan, err := execPlan(lc.backend.root.Path(), lc.ID(), opts.Process, lc.c.Config().Capabilities)
	if err != nil {
		return nil, err
	}
	sandboxed := plan.shim != nil && !plan.exec.Client
	if sandboxed {
		// A plugbox sandbox: the new process gets the plugin's layers.
		if err := keepsSandboxPrivileges(opts.Process); err != nil {
			return nil, fmt.Errorf("exec %s: %w", lc.ID(), err)
		}
	}
	process, err := newProcess(opts.Process)
	if err != nil {
		return nil, err
	}
	if sandboxed {
		nnp := true
		process.NoNewPrivileges = &nnp
	}
	if sandboxed {
		process.Capabilities = nil // the container's, from its config
	}
	for i := 0; i < opts.PreserveFDs; i++ {
		f, err := preservedFile(3+i, sandboxed)
		if err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: %w", opts.PreserveFDs, err)
		}
		process.ExtraFiles = append(process.ExtraFiles, f)
	}
	if err := plan.adjustProcess(process, lc.backend.root.Path(), lc.ID()); err != nil {
		return nil, err
	}
	cleanup, err := setupStdio(process, stdioOptions{
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		ConsoleSocket: opts.ConsoleSocket, Foreground: !opts.Detach,
	}, opts.Process.Terminal)
	if err != nil {
		plan.abort()
		return nil, err
	}
	if err := plan.beforeStart(lc.dir()); err != nil {
		plan.abort()
		cleanup()
		return nil, fmt.Errorf("exec %s: %w", lc.ID(), err)
	}
	if err := lc.c.Run(process); err != nil {
		plan.abort()
		cleanup()
		return nil, fmt.Errorf("exec %s: %w", lc.ID(), err)
	}
	if err := plan.afterStart(lc.c, process); err != nil {
		plan.abort()
		_ = process.Signal(unix.SIGKILL)
		_, _ = process.Wait()
		cleanup()
		return nil, fmt.Errorf("exec %s: %w", lc.ID(), err)
	}
	pid, err := process.Pid()
	if err == nil && opts.PidFile != "" {
		err = atomicfile.WriteVolatile(opts.PidFile, []byte(strconv.Itoa(pid)), 0o644)
		if err != nil {
			err = fmt.Errorf("--pid-file %s: %w", opts.PidFile, err)
		}
	}
	if err != nil {
		_ = process.Signal(unix.SIGKILL)
		_, _ = process.Wait()
		cleanup()
		return nil, err
	}
	if opts.Detach {
		cleanup()
		return &execProcess{pid: pid}, nil
	}
	return &execProcess{pid: pid, process: process, cleanup: cleanup, monitor: plan.spawned}, nil
}

// keepsSandboxPrivileges refuses an exec'd process that asks a plugbox
// sandbox for more than its plugin has: capabilities or no_new_privs off.
func keepsSandboxPrivileges(p *specs.Process) error {
	if c := p.Capabilities; c != nil {
		if n := len(c.Bounding) + len(c.Effective) + len(c.Permitted) + len(c.Inheritable) + len(c.Ambient); n > 0 {
			return errors.New("a plugbox sandbox runs every process without capabilities: drop --cap and process.capabilities")
		}
	}
	return nil
}

// execProcess is a process started by Exec.
type execProcess struct {
	pid     int
	process *libcontainer.Process // nil when detached
	cleanup func()
	monitor *monitor.Spawn
}

func (p *execProcess) Pid() int { return p.pid }

func (p *execProcess) Wait() (int, error) {
	if p.process == nil {
		return -1, errors.New("wait: the process was started detached")
	}
	stop := forwardSignals(p.process)
	ps, err := p.process.Wait()
	stop()
	p.cleanup()
	if p.monitor != nil {
		p.monitor.Wait()
	}
	if ps == nil {
		return -1, fmt.Errorf("wait for pid %d: %w", p.pid, err)
	}
	return waitStatus(ps.Sys().(syscall.WaitStatus)), nil
}

func (lc *linuxContainer) Pause() error {
	unlock, err := lc.lockFresh()
	if err != nil {
		return err
	}
	defer unlock()
	if err := lc.c.Pause(); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("pause %s: %w", lc.ID(), ErrNotRunning)
		}
		return fmt.Errorf("pause %s: %w", lc.ID(), err)
	}
	return nil
}

func (lc *linuxContainer) Resume() error {
	unlock, err := lc.lockFresh()
	if err != nil {
		return err
	}
	defer unlock()
	if err := lc.c.Resume(); err != nil {
		if errors.Is(err, libcontainer.ErrNotPaused) {
			return fmt.Errorf("resume %s: %w", lc.ID(), ErrNotPaused)
		}
		return fmt.Errorf("resume %s: %w", lc.ID(), err)
	}
	return nil
}

func (lc *linuxContainer) Update(r *specs.LinuxResources) error {
	unlock, err := lc.lockFresh()
	if err != nil {
		return err
	}
	defer unlock()
	s, err := lc.status()
	if err != nil {
		return err
	}
	if s == libcontainer.Stopped {
		return fmt.Errorf("update %s: %w", lc.ID(), ErrNotRunning)
	}
	config := lc.c.Config()
	if config.Cgroups == nil || config.Cgroups.Resources == nil {
		return fmt.Errorf("update %s: the container has no cgroup to update", lc.ID())
	}
	if err := mergeResources(config.Cgroups.Resources, r); err != nil {
		return fmt.Errorf("update %s: %w", lc.ID(), err)
	}
	if err := lc.c.Set(config); err != nil {
		return fmt.Errorf("update %s: %w", lc.ID(), err)
	}
	return nil
}

// mergeResources sets in dst the limits r names, as runc update does;
// fields r leaves nil keep their value.
func mergeResources(dst *cgroups.Resources, r *specs.LinuxResources) error {
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			dst.Memory = *m.Limit
			if *m.Limit == -1 && m.Swap == nil {
				dst.MemorySwap = 0
			}
		}
		if m.Reservation != nil {
			dst.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			dst.MemorySwap = *m.Swap
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			dst.CpuShares = *c.Shares
		}
		if c.Quota != nil {
			dst.CpuQuota = *c.Quota
		}
		if c.Period != nil {
			dst.CpuPeriod = *c.Period
		}
		if c.Burst != nil {
			dst.CpuBurst = c.Burst
		}
		if c.RealtimeRuntime != nil {
			dst.CpuRtRuntime = *c.RealtimeRuntime
		}
		if c.RealtimePeriod != nil {
			dst.CpuRtPeriod = *c.RealtimePeriod
		}
		if c.Cpus != "" {
			dst.CpusetCpus = c.Cpus
		}
		if c.Mems != "" {
			dst.CpusetMems = c.Mems
		}
		if c.Idle != nil {
			dst.CPUIdle = c.Idle
		}
	}
	if b := r.BlockIO; b != nil && b.Weight != nil {
		dst.BlkioWeight = *b.Weight
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		dst.PidsLimit = p.Limit
	}
	if len(r.Devices) > 0 || len(r.HugepageLimits) > 0 || r.Network != nil || len(r.Rdma) > 0 {
		return errors.New("only memory, cpu, blockIO.weight and pids limits can be updated")
	}
	return nil
}

func (lc *linuxContainer) Stats() (*Stats, error) {
	ls, err := lc.c.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats %s: %w", lc.ID(), err)
	}
	out := &Stats{}
	cg := ls.CgroupStats
	if cg == nil {
		return out, nil
	}
	out.CPU.Usage.Total = cg.CpuStats.CpuUsage.TotalUsage
	out.CPU.Usage.Kernel = cg.CpuStats.CpuUsage.UsageInKernelmode
	out.CPU.Usage.User = cg.CpuStats.CpuUsage.UsageInUsermode
	out.CPU.Throttling.Periods = cg.CpuStats.ThrottlingData.Periods
	out.CPU.Throttling.ThrottledPeriods = cg.CpuStats.ThrottlingData.ThrottledPeriods
	out.CPU.Throttling.ThrottledTime = cg.CpuStats.ThrottlingData.ThrottledTime
	out.Memory.Cache = cg.MemoryStats.Cache
	out.Memory.Usage = memoryEntry(cg.MemoryStats.Usage)
	out.Memory.Swap = memoryEntry(cg.MemoryStats.SwapUsage)
	out.Pids.Current = cg.PidsStats.Current
	out.Pids.Limit = cg.PidsStats.Limit
	return out, nil
}

func memoryEntry(d cgroups.MemoryData) MemoryEntry {
	return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}
