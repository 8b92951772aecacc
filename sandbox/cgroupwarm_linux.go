package sandbox

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// StartCgroupWarmup starts, off the caller's path, the wait that the
// kernel imposes on the first cgroup migration after an idle spell, so a
// create or exec that follows does not sit through it.
//
// Moving a process between cgroups write-locks the kernel's global
// cgroup_threadgroup_rwsem, a per-CPU rwsem whose writer first waits for an
// RCU grace period (rcu_sync) unless another writer ran within the last
// one. On a cgroup v1 host libcontainer moves the container's init into
// every hierarchy, and its first move waited 8 to 12 ms here, the largest
// single stage of a start. Writing this process's pid into the cgroup it
// is already in changes nothing but takes the same lock; started when the
// CLI starts, the grace period runs while plugbox reads the bundle and
// libcontainer prepares, and the moves that follow find the lock warm. A
// cgroup v2 host needs none of this (libcontainer starts the init inside
// its cgroup, CLONE_INTO_CGROUP), nor can an unprivileged user move itself.
func StartCgroupWarmup() {
	if os.Geteuid() != 0 || cgroups.IsCgroup2UnifiedMode() {
		return
	}
	go warmCgroupLock()
}

func warmCgroupLock() {
	path := ownProcsFile()
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()))
}

// ownProcsFile is cgroup.procs of this process's cgroup in the pids
// hierarchy (any v1 hierarchy takes the same lock), at its usual mount
// point; "" when there is none.
func ownProcsFile() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == "pids" {
			return "/sys/fs/cgroup/pids" + parts[2] + "/cgroup.procs"
		}
	}
	return ""
}
