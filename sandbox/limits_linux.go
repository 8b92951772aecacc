package sandbox

import (
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/plugbox/plugbox/monitor"
)

// limitHits reads the container's cgroup counters: OOM kills (v2
// memory.events, v1 memory.oom_control) and forks refused by the pids
// limit (pids.events, both versions). A counter that cannot be read (no
// cgroup, rootless without delegation) counts as 0.
func readLimitHits(c *libcontainer.Container) limitHits {
	var h limitHits
	st, err := c.State()
	if err != nil {
		return h
	}
	if r := st.Config.Cgroups; r != nil && r.Resources != nil {
		h.MemoryLimit = r.Resources.Memory
		if r.Resources.PidsLimit != nil {
			h.PidsLimit = *r.Resources.PidsLimit
		}
	}
	read := func(dir, name string) []byte {
		if dir == "" {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return data
	}
	if unified := st.CgroupPaths[""]; unified != "" {
		h.OOMKills = counter(read(unified, "memory.events"), "oom_kill")
		h.PidsRefused = counter(read(unified, "pids.events"), "max")
	}
	if h.OOMKills == 0 {
		h.OOMKills = counter(read(st.CgroupPaths["memory"], "memory.oom_control"), "oom_kill")
	}
	if h.PidsRefused == 0 {
		h.PidsRefused = counter(read(st.CgroupPaths["pids"], "pids.events"), "max")
	}
	return h
}

// recordLimitEnd records, once the plugin's process has exited with
// status, the limit that ended it, if the cgroup counters name one.
func (lc *linuxContainer) recordLimitEnd(status int) {
	if e := readLimitHits(lc.c).memoryEnd(status == 128+9); e != nil {
		_, _ = monitor.RecordEnd(lc.dir(), *e)
	}
}

// addLimitState adds to a state's annotations which limit ended the
// plugin, when nothing else said so (addMonitorState) and the cgroup's
// counters name one (recorded at exit, or read now for a stopped
// container), and which limit constrains it.
func (lc *linuxContainer) addLimitState(stopped bool, annotations map[string]string) {
	delete(annotations, AnnotationConstrained)
	hits := readLimitHits(lc.c)
	if annotations[AnnotationEnded] == "" {
		e, _ := monitor.ReadEnd(lc.dir())
		if e == nil && stopped {
			e = hits.memoryEnd(false)
		}
		if e != nil {
			annotations[AnnotationEnded] = e.String()
		}
	}
	if s := hits.constrained(); s != "" {
		annotations[AnnotationConstrained] = s
	}
}
