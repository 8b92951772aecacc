package sandbox

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/plugbox/plugbox/bundle"
	"github.com/plugbox/plugbox/monitor"
)

// AnnotationConstrained, in a container's state, names a limit that
// refused the plugin something without ending it (create refuses a
// config.json that carries it: only plugbox says what happened).
const AnnotationConstrained = bundle.AnnotationConstrained

// limitHits is what a container's cgroup counters say about its limits.
type limitHits struct {
	MemoryLimit int64  // bytes; 0: none
	OOMKills    uint64 // processes the OOM killer killed at the limit
	PidsLimit   int64  // 0: none
	PidsRefused uint64 // forks and clones the pids limit refused
}

// memoryEnd describes the OOM kills; killed says the plugin's own process
// died of SIGKILL, so the limit ended it.
func (h limitHits) memoryEnd(killed bool) *monitor.End {
	if h.OOMKills == 0 {
		return nil
	}
	limit := "the memory limit"
	if h.MemoryLimit > 0 {
		limit += " (" + sizeString(h.MemoryLimit) + ")"
	}
	detail := "killed by " + limit
	if !killed {
		detail = limit + " killed " + count(h.OOMKills, "process", "processes") + " of the plugin (the OOM killer)"
	}
	return &monitor.End{Cause: monitor.CauseMemory, Detail: detail, Time: time.Now().UTC()}
}

// constrained describes the forks the pids limit refused, or "".
func (h limitHits) constrained() string {
	if h.PidsRefused == 0 {
		return ""
	}
	limit := "the pids limit"
	if h.PidsLimit > 0 {
		limit += " (" + strconv.FormatInt(h.PidsLimit, 10) + ")"
	}
	return monitor.CausePids + ": " + limit + " refused " + count(h.PidsRefused, "new process or thread", "new processes or threads")
}

func count(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatUint(n, 10) + " " + many
}

// sizeString renders bytes as the manifest writes sizes: "64M", "1G".
func sizeString(b int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b%u.m == 0 {
			return strconv.FormatInt(b/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(b, 10)
}

// counter returns the value of key in a cgroup file of "key value" lines
// (memory.events, pids.events, v1's memory.oom_control), 0 when absent.
func counter(data []byte, key string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
