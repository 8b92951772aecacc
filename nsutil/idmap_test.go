package nsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	got, err := ParseSubIDs("subuid", []byte("# comment\nalice:100000:65536\n\nplugbox:1879048192:655360\n1001:200000:10\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []SubIDEntry{{"alice", IDRange{100000, 65536}}, {"plugbox", IDRange{1879048192, 655360}}, {"1001", IDRange{200000, 10}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"alice:100000", "alice:x:1", ":1:1", "alice:4294967295:2"} {
		if _, err := ParseSubIDs("subuid", []byte(bad+"\n")); err == nil || !strings.Contains(err.Error(), "subuid:1:") {
			t.Errorf("%q: %v, want an error naming subuid:1", bad, err)
		}
	}
}

func TestPool(t *testing.T) {
	r := func(start, size uint32) IDRange { return IDRange{start, size} }
	for _, tc := range []struct {
		name    string
		entries []SubIDEntry
		taken   []uint32
		want    []IDRange
	}{
		{"no plugbox entry: the default", nil, nil, []IDRange{DefaultPool}},
		{"users outside the default pool", []SubIDEntry{{"alice", r(100000, 65536)}}, nil, []IDRange{DefaultPool}},
		{"a user inside the default pool is cut out",
			[]SubIDEntry{{"mallory", r(DefaultPool.Start+10, 20)}}, nil,
			[]IDRange{r(DefaultPool.Start, 10), r(DefaultPool.Start+30, DefaultPool.Size-30)}},
		{"plugbox entries replace the default",
			[]SubIDEntry{{"plugbox", r(300000, 1000)}, {"plugbox", r(100000, 1000)}}, nil,
			[]IDRange{r(100000, 1000), r(300000, 1000)}},
		{"a user overlapping plugbox's entry wins",
			[]SubIDEntry{{"plugbox", r(100000, 1000)}, {"alice", r(100500, 1000)}}, nil,
			[]IDRange{r(100000, 500)}},
		{"local accounts are cut out", []SubIDEntry{{"plugbox", r(1000, 10)}}, []uint32{1003},
			[]IDRange{r(1000, 3), r(1004, 6)}},
	} {
		if got := Pool(tc.entries, tc.taken); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: Pool = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// testAllocator returns an allocator over files in a temp dir: a plugbox
// range of slots sandboxes of 10 ids, and what else the files say.
func testAllocator(t *testing.T, subuid, passwd string) *Allocator {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return &Allocator{
		Dir:    filepath.Join(dir, "idmap"),
		SubUID: write("subuid", subuid),
		SubGID: write("subgid", subuid),
		Passwd: write("passwd", passwd),
		Group:  write("group", ""),
		Size:   10,
	}
}

func TestAllocateDisjointAndFree(t *testing.T) {
	// A user holds ids 1010..1019 inside plugbox's range, uid 1025 is a
	// local account: neither may reach a sandbox.
	a := testAllocator(t, "plugbox:1000:60\nalice:1010:10\n", "bob:x:1025:1025::/:/bin/sh\n")
	owners := make([]string, 3)
	for i := range owners {
		owners[i] = filepath.Join(t.TempDir(), "c")
		if err := os.Mkdir(owners[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var got []IDRange
	for _, o := range owners {
		al, err := a.Allocate(o)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, al.UID)
	}
	want := []IDRange{{1000, 10}, {1026, 10}, {1036, 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("allocated %v, want %v (around alice's 1010-1019 and bob's 1025)", got, want)
	}
	// Full: 1046..1059 leaves only 14, one more fits, then none.
	extra := filepath.Join(t.TempDir(), "d")
	_ = os.Mkdir(extra, 0o700)
	if _, err := a.Allocate(extra); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(t.TempDir(), "e")
	_ = os.Mkdir(last, 0o700)
	if _, err := a.Allocate(last); err == nil || !strings.Contains(err.Error(), `"plugbox" entry`) {
		t.Errorf("allocation beyond the pool: %v", err)
	}
	// Release frees; the next allocation reuses the lowest range.
	if err := a.Release(owners[0]); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(owners[0]); err != nil {
		t.Errorf("second release: %v", err)
	}
	al, err := a.Allocate(last)
	if err != nil || al.UID != (IDRange{1000, 10}) {
		t.Errorf("after release: %v, %v", al, err)
	}
	// An owner whose directory is gone (its root removed by hand) no
	// longer holds its range.
	if err := os.Remove(owners[1]); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "f")
	_ = os.Mkdir(again, 0o700)
	if al, err := a.Allocate(again); err != nil || al.UID != (IDRange{1026, 10}) {
		t.Errorf("stale owner's range: %v, %v", al, err)
	}
	held, err := a.Held()
	if err != nil || len(held) != 4 {
		t.Errorf("Held() = %v, %v; want 4", held, err)
	}
}

func TestAllocateConcurrent(t *testing.T) {
	a := testAllocator(t, "plugbox:5000:1000\n", "")
	const n = 40
	ranges := make([]IDRange, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		owner := filepath.Join(t.TempDir(), "c")
		if err := os.Mkdir(owner, 0o700); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			al, err := a.Allocate(owner)
			if err != nil {
				t.Error(err)
				return
			}
			ranges[i] = al.UID
		}(i)
	}
	wg.Wait()
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			if ranges[i].Overlaps(ranges[j]) {
				t.Errorf("allocations %d and %d overlap: %v %v", i, j, ranges[i], ranges[j])
			}
		}
	}
}

func TestAllocatorRefusesForeignDir(t *testing.T) {
	a := testAllocator(t, "", "")
	if err := os.Mkdir(a.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(a.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	owner := t.TempDir()
	if _, err := a.Allocate(owner); err == nil || !strings.Contains(err.Error(), "writable only by it") {
		t.Errorf("world-writable allocation dir: %v", err)
	}
}
