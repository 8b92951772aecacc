package nsutil

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// IDRange is the host ids Start .. Start+Size-1.
type IDRange struct {
	Start uint32 `json:"start"`
	Size  uint32 `json:"size"`
}

func (r IDRange) end() uint64 { return uint64(r.Start) + uint64(r.Size) }

// String formats the range as /etc/subuid does: START:SIZE.
func (r IDRange) String() string { return fmt.Sprintf("%d:%d", r.Start, r.Size) }

// Overlaps reports whether r and o share an id.
func (r IDRange) Overlaps(o IDRange) bool {
	return r.Size > 0 && o.Size > 0 && uint64(r.Start) < o.end() && uint64(o.Start) < r.end()
}

// SubIDEntry is one line of /etc/subuid or /etc/subgid: OWNER:START:SIZE.
type SubIDEntry struct {
	Owner string
	IDRange
}

// PoolOwner is the /etc/subuid and /etc/subgid owner whose ranges plugbox
// hands out to sandboxes, like podman's "containers" entry.
const PoolOwner = "plugbox"

// DefaultPool is what plugbox hands out when /etc/subuid (or /etc/subgid)
// has no plugbox entry: 0x70000000 up to systemd's foreign range
// (0x7FFE0000), above the ranges useradd allocates (100000..600100000+65536)
// and below 2^31. Ranges other entries or local accounts hold are taken out.
var DefaultPool = IDRange{Start: 0x70000000, Size: 0x7FFE0000 - 0x70000000}

// SandboxIDs is how many ids a sandbox gets: container ids 0..65535.
const SandboxIDs = 65536

// ParseSubIDs decodes /etc/subuid or /etc/subgid. name is used in messages.
// A line it cannot read is an error: skipping it could hand out ids a user
// owns.
func ParseSubIDs(name string, data []byte) ([]SubIDEntry, error) {
	var out []SubIDEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("%s:%d: %q is not OWNER:START:COUNT: fix or remove the line", name, n, line)
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		size, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || start+size > 1<<32 {
			return nil, fmt.Errorf("%s:%d: %q: START and COUNT must be numbers within 0..2^32: fix or remove the line", name, n, line)
		}
		out = append(out, SubIDEntry{Owner: f[0], IDRange: IDRange{Start: uint32(start), Size: uint32(size)}})
	}
	return out, sc.Err()
}

// Pool returns the ranges plugbox may hand out: the plugbox entries (or
// DefaultPool when there are none), minus every range another entry holds
// and minus the single ids in taken (local accounts), sorted.
func Pool(entries []SubIDEntry, taken []uint32) []IDRange {
	var pool, others []IDRange
	for _, e := range entries {
		if e.Owner == PoolOwner {
			pool = append(pool, e.IDRange)
		} else {
			others = append(others, e.IDRange)
		}
	}
	if len(pool) == 0 {
		pool = []IDRange{DefaultPool}
	}
	for _, id := range taken {
		others = append(others, IDRange{Start: id, Size: 1})
	}
	return subtract(pool, others)
}

// subtract returns the ids of from that are in none of minus, as sorted,
// non-overlapping ranges.
func subtract(from, minus []IDRange) []IDRange {
	type span struct{ lo, hi uint64 } // [lo, hi)
	var cur []span
	for _, r := range from {
		if r.Size > 0 {
			cur = append(cur, span{uint64(r.Start), r.end()})
		}
	}
	for _, m := range minus {
		var next []span
		for _, s := range cur {
			lo, hi := uint64(m.Start), m.end()
			if hi <= s.lo || lo >= s.hi || m.Size == 0 {
				next = append(next, s)
				continue
			}
			if lo > s.lo {
				next = append(next, span{s.lo, lo})
			}
			if hi < s.hi {
				next = append(next, span{hi, s.hi})
			}
		}
		cur = next
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].lo < cur[j].lo })
	out := make([]IDRange, 0, len(cur))
	for _, s := range cur {
		out = append(out, IDRange{Start: uint32(s.lo), Size: uint32(s.hi - s.lo)})
	}
	return out
}

// firstFit returns the lowest run of size ids in free.
func firstFit(free []IDRange, size uint32) (IDRange, bool) {
	for _, r := range free {
		if r.Size >= size {
			return IDRange{Start: r.Start, Size: size}, true
		}
	}
	return IDRange{}, false
}

// Allocation is the host ids one sandbox holds.
type Allocation struct {
	// Owner is the directory whose existence keeps the allocation in use
	// (plugbox: the container's state directory).
	Owner string  `json:"owner"`
	UID   IDRange `json:"uid"`
	GID   IDRange `json:"gid"`
}

// Allocator hands out disjoint id ranges, one per sandbox, from plugbox's
// pool, as podman's --userns=auto does. Every plugbox process on the host
// shares Dir, so two sandboxes never share a host id, whatever their state
// roots; an flock on Dir/lock serialises allocations (not the creates).
type Allocator struct {
	// Dir holds one file per allocation (root only, 0700).
	Dir string
	// SubUID, SubGID, Passwd and Group are the files read for the pool and
	// for the ids already taken.
	SubUID, SubGID, Passwd, Group string
	// Size is the number of ids per sandbox (SandboxIDs when zero).
	Size uint32
}

// DefaultIDMapDir is where the host-wide allocations live: the sandboxes
// die with the machine, and so do their allocations.
const DefaultIDMapDir = "/run/plugbox-idmap"

// NewAllocator returns the host's allocator: DefaultIDMapDir and the
// files in /etc.
func NewAllocator() *Allocator {
	return &Allocator{Dir: DefaultIDMapDir, SubUID: "/etc/subuid", SubGID: "/etc/subgid", Passwd: "/etc/passwd", Group: "/etc/group"}
}

// Allocate gives owner its own uid and gid range. An earlier allocation of
// owner, and allocations whose owner directory is gone (a state root
// removed by hand), count as free.
func (a *Allocator) Allocate(owner string) (*Allocation, error) {
	size := a.Size
	if size == 0 {
		size = SandboxIDs
	}
	uidPool, err := a.pool(a.SubUID, a.Passwd, 2)
	if err != nil {
		return nil, err
	}
	gidPool, err := a.pool(a.SubGID, a.Group, 2)
	if err != nil {
		return nil, err
	}
	if err := a.ensureDir(); err != nil {
		return nil, err
	}
	unlock, err := a.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	held, err := a.held()
	if err != nil {
		return nil, err
	}
	var usedUID, usedGID []IDRange
	for _, h := range held {
		if h.Owner == owner || !exists(h.Owner) {
			_ = os.Remove(a.file(h.Owner)) // stale: its sandbox is gone
			continue
		}
		usedUID = append(usedUID, h.UID)
		usedGID = append(usedGID, h.GID)
	}
	uid, ok1 := firstFit(subtract(uidPool, usedUID), size)
	gid, ok2 := firstFit(subtract(gidPool, usedGID), size)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("no free range of %d host ids left for a sandbox (%d held): delete stopped containers, or reserve more with a %q entry in %s and %s", size, len(held), PoolOwner, a.SubUID, a.SubGID)
	}
	al := &Allocation{Owner: owner, UID: uid, GID: gid}
	data, err := json.Marshal(al)
	if err != nil {
		return nil, err
	}
	// Written in place under the lock: readers hold the lock too.
	if err := os.WriteFile(a.file(owner), data, 0o600); err != nil {
		return nil, fmt.Errorf("record id range: %w", err)
	}
	return al, nil
}

// Release frees owner's ranges; nothing allocated is no error.
func (a *Allocator) Release(owner string) error {
	err := os.Remove(a.file(owner))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release id range: %w", err)
	}
	return nil
}

// Held returns every allocation, including ones whose owner is gone.
func (a *Allocator) Held() ([]Allocation, error) {
	if _, err := os.Stat(a.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	unlock, err := a.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return a.held()
}

func (a *Allocator) held() ([]Allocation, error) {
	entries, err := os.ReadDir(a.Dir)
	if err != nil {
		return nil, fmt.Errorf("id ranges: %w", err)
	}
	var out []Allocation
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(a.Dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("id ranges: %w", err)
		}
		var al Allocation
		if err := json.Unmarshal(data, &al); err != nil {
			return nil, fmt.Errorf("id range %s: %w: remove the file", filepath.Join(a.Dir, e.Name()), err)
		}
		out = append(out, al)
	}
	return out, nil
}

// file names owner's allocation: a hash, as owner is a path.
func (a *Allocator) file(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return filepath.Join(a.Dir, hex.EncodeToString(sum[:12])+".json")
}

// pool reads the subid file and the account file (field idField is the
// id) and returns the free part of plugbox's pool. A missing file is empty.
func (a *Allocator) pool(subidFile, accounts string, idField int) ([]IDRange, error) {
	data, err := os.ReadFile(subidFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("id ranges: %w", err)
	}
	entries, err := ParseSubIDs(subidFile, data)
	if err != nil {
		return nil, err
	}
	taken, err := accountIDs(accounts, idField)
	if err != nil {
		return nil, err
	}
	return Pool(entries, taken), nil
}

// accountIDs returns field idField of each line of a passwd or group file.
func accountIDs(path string, idField int) ([]uint32, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("id ranges: %w", err)
	}
	var ids []uint32
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) <= idField {
			continue
		}
		if id, err := strconv.ParseUint(f[idField], 10, 32); err == nil {
			ids = append(ids, uint32(id))
		}
	}
	return ids, nil
}

// ensureDir creates Dir 0700 and refuses one that someone else could
// write: whoever can edit the allocations can make two sandboxes share ids.
func (a *Allocator) ensureDir() error {
	if err := os.MkdirAll(a.Dir, 0o700); err != nil {
		return fmt.Errorf("id ranges: %w", err)
	}
	st, err := os.Lstat(a.Dir)
	if err != nil {
		return fmt.Errorf("id ranges: %w", err)
	}
	owner := int(st.Sys().(*syscall.Stat_t).Uid)
	if !st.IsDir() || owner != os.Geteuid() || st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("id ranges: %s must be a directory owned by uid %d and writable only by it (it is %v, uid %d): remove it", a.Dir, os.Geteuid(), st.Mode(), owner)
	}
	return nil
}

func (a *Allocator) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(a.Dir, "lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("id ranges: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("id ranges: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
