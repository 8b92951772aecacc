package monitor

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits bound what one plugin can make the monitor write.
type Limits struct {
	// MaxBytes caps the log file; past it, calls are only counted.
	MaxBytes int64 `json:"maxBytes"`
	// Rate and Burst are a token bucket on lines written: Burst lines at
	// once, Rate per second sustained. Learning mode is not rate-limited
	// (a trace must see every distinct call); the size cap still holds.
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// Window is how long repeats of one call are counted before a line
	// says how many there were.
	Window time.Duration `json:"window"`
	// MaxPending bounds the distinct calls counted at once.
	MaxPending int `json:"maxPending"`
}

// DefaultLimits: 4 MiB of log (about 20,000 lines; the log lives in the
// state directory, on /run a tmpfs, i.e. memory), 100 lines/s after a
// burst of 500, repeats summed each second.
var DefaultLimits = Limits{MaxBytes: 4 << 20, Rate: 100, Burst: 500, Window: time.Second, MaxPending: 512}

// maxDroppedNames bounds the per-call breakdown of a "dropped" notice; the
// rest are counted under "other".
const maxDroppedNames = 64

// Counters account for every call the monitor answered:
// Calls = Logged + Dropped + Lost + (calls still being counted).
type Counters struct {
	// Calls is how many notifications were answered.
	Calls uint64 `json:"calls"`
	// Logged is how many calls the log's call lines stand for.
	Logged uint64 `json:"logged"`
	// Dropped is how many calls only a "dropped" notice counts.
	Dropped uint64 `json:"dropped"`
	// Lost is how many calls are in no line at all (a write failed).
	Lost uint64 `json:"lost"`
	// WriteError is the last write failure, "" if none.
	WriteError string `json:"writeError,omitempty"`
}

// callKey identifies identical calls. In learning mode the pid is left out:
// a trace needs each distinct call once, whoever made it.
type callKey struct {
	pid    uint32
	arch   string
	nr     int32
	args   [6]uint64
	action string
	// broker is what the broker decided on (path or destination, and
	// why): the same arguments may point at a different path each time.
	broker string
}

// pending counts the repeats of one call in the current window.
type pending struct {
	event       Event // the first call, a template for the repeat line
	windowStart time.Time
	count       uint64
	first, last time.Time
	// absorb counts calls already in a line (or a notice's count) that the
	// kernel took back before they were answered: a signal interrupted the
	// caller, which makes the same call again. That call is not counted twice.
	absorb uint64
}

// outcome is what Call did with a call, for Retract.
type outcome int

const (
	outRepeat    outcome = iota // counted as a repeat
	outAccounted                // in a line, or in the dropped or lost counts
	outAbsorbed                 // the retry of an interrupted call, already accounted
)

// Recorder turns answered calls into log lines within Limits. It is not safe
// for concurrent use; the monitor serves one notification at a time.
type Recorder struct {
	out       *LogWriter
	limits    Limits
	learning  bool
	audit     bool // answers are mixed: denied, or audited
	container string

	pending  map[callKey]*pending
	counting int // pending calls with repeats to write
	tokens   float64
	refill   time.Time

	last struct { // the latest call, for Retract
		key callKey
		out outcome
	}

	dropped      map[string]uint64 // per call, not yet in a notice
	droppedTotal uint64
	droppedWhy   map[string]bool
	lostUnsaid   uint64 // lost calls no "lost" notice mentions yet
	lastNotice   time.Time
	counters     Counters
}

// NewRecorder records the calls of container into out.
func NewRecorder(out *LogWriter, mode Mode, container string, limits Limits, now time.Time) *Recorder {
	return &Recorder{
		out: out, limits: limits, learning: mode == Learning, audit: mode == Audit, container: container,
		pending: map[callKey]*pending{}, tokens: float64(limits.Burst), refill: now,
		dropped: map[string]uint64{}, droppedWhy: map[string]bool{},
	}
}

// Counters returns the running totals.
func (r *Recorder) Counters() Counters { return r.counters }

// Call records one answered call. The first of a run of identical calls is
// written at once (so its line exists when the call returns); repeats are
// counted and written as one line per window by Tick.
func (r *Recorder) Call(e Event, now time.Time) {
	r.counters.Calls++
	k := r.key(e)
	r.last.key = k
	if p, ok := r.pending[k]; ok {
		switch {
		case p.absorb > 0:
			p.absorb--
			r.last.out = outAbsorbed
		case p.count == 0 && !r.learning && now.Sub(p.windowStart) >= r.limits.Window:
			// Quiet for a window: this call gets a line of its own.
			p.windowStart = now
			r.emit(e, 1, now, false)
			r.last.out = outAccounted
		default:
			if p.count == 0 {
				p.first = now
				r.counting++
			}
			p.count++
			p.last = now
			r.last.out = outRepeat
		}
		return
	}
	if len(r.pending) >= r.limits.MaxPending {
		// Under the rate limit too: cycling through many distinct calls
		// must not be a way around it.
		r.flushRepeats(now, false)
		clear(r.pending)
		r.counting = 0
	}
	r.pending[k] = &pending{event: e, windowStart: now}
	r.emit(e, 1, now, false)
	r.last.out = outAccounted
}

// Retract takes back the latest Call: the kernel did not take its answer
// (ENOENT), because a signal interrupted the caller, which will make the
// call again, or because the caller died.
//
// One race it cannot see: a signal that wakes the caller while the answer
// is being sent. The kernel accepts the answer, then finds the caller
// interrupted, drops the answer and restarts the call, which arrives as a
// new notification. That call is counted twice, so the log's counts can
// exceed the calls a plugin saw by the number of such races; never fall
// short of them.
func (r *Recorder) Retract() {
	p, ok := r.pending[r.last.key]
	if !ok {
		return
	}
	r.counters.Calls--
	if r.last.out == outRepeat && p.count > 0 {
		p.count--
		if p.count == 0 {
			r.counting--
		}
		return
	}
	p.absorb++
}

func (r *Recorder) key(e Event) callKey {
	k := callKey{pid: e.Pid, arch: e.Arch, nr: e.Nr, action: e.Action}
	copy(k.args[:], e.Args)
	if b := e.Broker; b != nil {
		k.broker = b.Op + " " + b.Target + " " + b.Access + " " + b.Via + " " + b.Reason
	}
	if r.learning {
		k.pid = 0
	}
	return k
}

// Tick writes the counts of windows that have ended and any pending notice.
func (r *Recorder) Tick(now time.Time) {
	for k, p := range r.pending {
		if now.Sub(p.windowStart) < r.limits.Window {
			continue
		}
		if p.count > 0 {
			r.emitRepeats(p, now, false)
			p.windowStart = now
		} else if !r.learning && p.absorb == 0 {
			// (with absorb > 0, an interrupted call's retry is owed)
			delete(r.pending, k)
		}
	}
	// Notices too are bounded: one of each kind per window.
	if now.Sub(r.lastNotice) >= r.limits.Window {
		r.writeNotices(now)
	}
}

// Idle says whether Tick has nothing to do: no repeats being counted and no
// notice owed.
func (r *Recorder) Idle() bool {
	return r.counting == 0 && r.droppedTotal == 0 && r.lostUnsaid == 0
}

// Close writes every count still pending and the notices that account for
// what was not logged; after it, Counters balance.
func (r *Recorder) Close(now time.Time) {
	r.flushRepeats(now, true)
	clear(r.pending)
	r.counting = 0
	r.writeNotices(now)
}

// flushRepeats writes the counts of every pending call.
func (r *Recorder) flushRepeats(now time.Time, force bool) {
	for _, p := range r.pending {
		if p.count > 0 {
			r.emitRepeats(p, now, force)
		}
	}
}

func (r *Recorder) emitRepeats(p *pending, now time.Time, force bool) {
	e := p.event
	e.Time = p.first
	last := p.last
	e.Last = &last
	e.Count = p.count
	r.emit(e, p.count, now, force)
	p.count = 0
	r.counting--
}

// emit writes a call line for calls calls, or counts them as dropped when
// the rate limit (unless force) or the size cap says no.
func (r *Recorder) emit(e Event, calls uint64, now time.Time, force bool) {
	name := e.Syscall
	if e.Broker != nil && (e.Action == ActionGranted || e.Action == ActionRefused) {
		// A dropped notice counts the broker's records apart.
		name = brokerDropPrefix + e.Action
	}
	if !force && !r.learning && !r.take(now) {
		r.drop(name, calls, "more than "+strconv.FormatFloat(r.limits.Rate, 'f', -1, 64)+" lines/s")
		return
	}
	switch err := r.out.Append(e, false); {
	case err == nil:
		r.counters.Logged += calls
	case errors.Is(err, ErrLogFull):
		r.drop(name, calls, fmt.Sprintf("log size cap %d bytes reached", r.limits.MaxBytes))
	default:
		r.lose(calls, err)
	}
}

// take spends a token of the rate limit.
func (r *Recorder) take(now time.Time) bool {
	if d := now.Sub(r.refill); d > 0 {
		r.tokens += d.Seconds() * r.limits.Rate
		if max := float64(r.limits.Burst); r.tokens > max {
			r.tokens = max
		}
		r.refill = now
	}
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

func (r *Recorder) drop(name string, calls uint64, why string) {
	if _, ok := r.dropped[name]; !ok && len(r.dropped) >= maxDroppedNames {
		name = "other"
	}
	r.dropped[name] += calls
	r.droppedTotal += calls
	r.droppedWhy[why] = true
}

func (r *Recorder) lose(calls uint64, err error) {
	r.counters.Lost += calls
	r.lostUnsaid += calls
	r.counters.WriteError = err.Error()
}

// writeNotices writes a "lost" notice once writing works again, then the
// "dropped" notice for the calls counted since the last one.
func (r *Recorder) writeNotices(now time.Time) {
	if r.lostUnsaid > 0 || r.droppedTotal > 0 {
		r.lastNotice = now
	}
	if r.lostUnsaid > 0 {
		n := Notice{Time: now.UTC(), Container: r.container, Kind: NoticeLost, Action: r.action(), Count: r.lostUnsaid,
			Message: fmt.Sprintf("%d calls were answered but not logged: %s", r.lostUnsaid, r.counters.WriteError)}
		if r.out.Append(n, true) == nil {
			r.lostUnsaid = 0
		}
	}
	if r.droppedTotal == 0 {
		return
	}
	var why []string
	for w := range r.droppedWhy {
		why = append(why, w)
	}
	n := Notice{Time: now.UTC(), Container: r.container, Kind: NoticeDropped, Action: r.action(), Count: r.droppedTotal, Calls: r.dropped,
		Message: fmt.Sprintf("%d calls were answered but not logged one by one (%s)", r.droppedTotal, joinSorted(why))}
	if err := r.out.Append(n, true); err != nil {
		// Not even the notice fits (a full disk, or the reserve used up):
		// the calls are in no line; the status still counts them.
		r.lose(r.droppedTotal, err)
	} else {
		r.counters.Dropped += r.droppedTotal
	}
	r.dropped = map[string]uint64{}
	r.droppedWhy = map[string]bool{}
	r.droppedTotal = 0
}

func joinSorted(s []string) string {
	sort.Strings(s)
	return strings.Join(s, "; ")
}

// brokerDropPrefix names the broker's records in a dropped notice's
// counts ("broker granted", "broker refused"; a refusal left to the
// monitor is counted as the denial it is).
const brokerDropPrefix = "broker "

// action is what every call of this mode is answered with, "" in audit
// mode, which denies some calls and lets others run (the notice's per-call
// counts then say which calls they were).
func (r *Recorder) action() string {
	switch {
	case r.learning:
		return ActionAllowed
	case r.audit:
		return ""
	}
	return ActionDenied
}
