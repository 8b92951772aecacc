package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/plugbox/plugbox/bundle"
)

// Annotations plugbox adds to a container's state (create refuses a
// config.json that carries them: only plugbox says what happened).
const (
	AnnotationEnded       = bundle.AnnotationEnded
	AnnotationConstrained = bundle.AnnotationConstrained
)

// Causes of an End.
const (
	// CauseMemory: the OOM killer killed a process at the memory limit.
	CauseMemory = "memory"
	// CausePids: the pids limit refused a fork or a thread.
	CausePids = "pids"
	// CauseTimeout: the wall-clock limit passed.
	CauseTimeout = "timeout"
)

// End says which limit ended a plugin.
type End struct {
	Cause  string    `json:"cause"`  // one of the Cause constants
	Detail string    `json:"detail"` // one line for a person
	Time   time.Time `json:"time"`
}

// String is the form of AnnotationEnded: "CAUSE: DETAIL".
func (e End) String() string { return e.Cause + ": " + e.Detail }

// endName is the file, in a container's state directory, that records End.
const endName = "ended.json"

// recordEnd records e in the state directory dir unless an End is already
// there: the first cause wins, so a timeout's SIGKILL is not reported later
// as something else.
func recordEnd(dir string, e End) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".ended-*")
	if err != nil {
		return fmt.Errorf("record what ended the plugin: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// link(2) fails when the name exists: the first writer wins.
		err = os.Link(tmp.Name(), filepath.Join(dir, endName))
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("record what ended the plugin: %w", err)
	}
	return nil
}

// RecordEnd records, for container id under the state root, the limit
// that ended its plugin, unless another was recorded first.
func RecordEnd(root, id string, e End) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return recordEnd(filepath.Join(root, id), e)
}

// readEnd returns the End recorded in dir, or nil.
func readEnd(dir string) (*End, error) {
	data, err := os.ReadFile(filepath.Join(dir, endName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e End
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, endName), err)
	}
	return &e, nil
}

// limitHits is what a container's cgroup counters say about its limits.
type limitHits struct {
	MemoryLimit int64  // bytes; 0: none
	OOMKills    uint64 // processes the OOM killer killed at the limit
	PidsLimit   int64  // 0: none
	PidsRefused uint64 // forks and clones the pids limit refused
}

// memoryEnd describes the OOM kills; killed says the plugin's own process
// died of SIGKILL, so the limit ended it.
func (h limitHits) memoryEnd(killed bool) *End {
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
	return &End{Cause: CauseMemory, Detail: detail, Time: time.Now().UTC()}
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
	return CausePids + ": " + limit + " refused " + count(h.PidsRefused, "new process or thread", "new processes or threads")
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
