package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string // "" = valid; else part of the error
	}{
		{"a", ""},
		{"web-1_2+x.y", ""},
		{strings.Repeat("a", MaxIDLen), ""},
		{"", "give a name"},
		{".", "invalid"},
		{"..", "invalid"},
		{"a/b", `'/' is not allowed`},
		{"a b", `' ' is not allowed`},
		{"é", "is not allowed"},
		{strings.Repeat("a", MaxIDLen+1), "(256 bytes): at most 255 bytes"},
	} {
		err := ValidateID(tc.id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateID(%.20q): %v", tc.id, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidateID(%.20q) = %v, want an error with %q", tc.id, err, tc.want)
		}
	}
	// A 1 KB ID must not make a 2 KB message.
	if err := ValidateID(strings.Repeat("x", 1024)); err == nil || len(err.Error()) > 200 {
		t.Errorf("1024-byte ID: %v", err)
	}
}

func TestOpenCreatesPrivateRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b", "root")
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Dir(filepath.Dir(root)), filepath.Dir(root), root} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 || ownerOf(st) != os.Geteuid() {
			t.Errorf("%s: mode %v, owner %d; want 0700 and %d", dir, st.Mode(), ownerOf(st), os.Geteuid())
		}
	}
	if r.Path() != root {
		t.Errorf("Path() = %s, want %s", r.Path(), root)
	}
}

func TestOpenRefuses(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	worldWritable := mk("ww", 0o777)
	groupWritable := mk("gw", 0o770)
	openParent := mk("open", 0o777)
	sticky := mk("sticky", os.ModeSticky|0o777)
	for _, tc := range []struct {
		root, want string
	}{
		{worldWritable, "run 'chmod 700 " + worldWritable + "'"},
		{groupWritable, "writable by group or others (mode 0770)"},
		{filepath.Join(openParent, "root"), openParent + " is writable by group or others (mode 0777) without the sticky bit"},
	} {
		if _, err := Open(tc.root); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want an error with %q", tc.root, err, tc.want)
		}
	}
	// Below a sticky world-writable directory (like /tmp), a root of one's
	// own is fine.
	if _, err := Open(filepath.Join(sticky, "root")); err != nil {
		t.Errorf("root below a sticky directory: %v", err)
	}
	// A file is no root.
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Open(file) = %v", err)
	}
}

// TestOpenRefusesOtherOwners plants the root, a parent and a symlink as
// another user: what a local attacker does to a victim's default root.
func TestOpenRefusesOtherOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files owned by another uid")
	}
	const other = 61234
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(base, "planted")
	if err := os.Mkdir(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(base, "theirs")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	mine := filepath.Join(base, "mine")
	if err := os.Mkdir(mine, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mine, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{planted, parent} {
		if err := os.Chown(p, other, other); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(link, other, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		root, want string
	}{
		{planted, "is owned by uid 61234, not by you (uid 0)"},
		{filepath.Join(parent, "root"), parent + " is owned by uid 61234, who could replace the state directory"},
		{link, link + " is a symbolic link owned by uid 61234"},
	} {
		if _, err := Open(tc.root); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want an error with %q", tc.root, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "root")); err == nil {
		t.Error("Open created a root below another user's directory")
	}
	// A symlink of one's own (or root's) is followed.
	if err := os.Lchown(link, 0, 0); err != nil {
		t.Fatal(err)
	}
	if r, err := Open(link); err != nil || r.Path() != mine {
		t.Errorf("Open(own link) = %v, %v", r, err)
	}
	// A container directory planted inside an otherwise good root.
	r, err := Open(mine)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.Dir("c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(r.Dir("c"), other, other); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock("c"); err == nil || !strings.Contains(err.Error(), "not made by plugbox") {
		t.Errorf("Lock(planted dir) = %v", err)
	}
	if err := r.Check("c"); err == nil || !strings.Contains(err.Error(), "not made by plugbox") {
		t.Errorf("Check(planted dir) = %v", err)
	}
}

func TestCreateIsExclusive(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, exist := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := r.Create("same")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				time.Sleep(time.Millisecond)
				l.Unlock()
			case errors.Is(err, ErrExist):
				exist++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || exist != n-1 {
		t.Errorf("%d creates won, %d saw ErrExist; want 1 and %d", won, exist, n-1)
	}
	st, err := os.Stat(r.Dir("same"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("container dir: %v, %v", st, err)
	}
}

func TestLockSerialisesOneIDOnly(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	// Another ID is not held up by a's lock.
	b, err := r.Create("b")
	if err != nil {
		t.Fatalf("create b while a is locked: %v", err)
	}
	b.Unlock()
	if _, busy, err := r.TryLock("a"); !busy || err != nil {
		t.Fatalf("TryLock(a) while held: busy %v, %v", busy, err)
	}
	// Shared locks of one ID go together, and keep an exclusive one out.
	s1, err := r.LockShared("b")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.LockShared("b")
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, busy, _ := r.TryLock("b"); !busy {
		t.Error("exclusive lock taken while shared ones are held")
	}
	s1.Unlock()
	s2.Unlock()
	got := make(chan error, 1)
	go func() {
		l, err := r.Lock("a")
		if err == nil {
			l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock(a) returned while a was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// Removing the directory under the lock: the waiter sees ErrNotExist,
	// not a lock on a directory that is gone.
	if err := a.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrNotExist) {
		t.Errorf("waiter after RemoveAll: %v, want ErrNotExist", err)
	}
	if _, err := r.Lock("a"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Lock(removed) = %v", err)
	}
	// The ID is free again.
	l, err := r.Create("a")
	if err != nil {
		t.Fatalf("create a again: %v", err)
	}
	l.Unlock()
	ids, err := r.List()
	if err != nil || strings.Join(ids, ",") != "a,b" && strings.Join(ids, ",") != "b,a" {
		t.Errorf("List() = %v, %v", ids, err)
	}
}

func TestListSkipsNonContainers(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ok", ".tmp only dirs with valid IDs count"} {
		_ = os.Mkdir(r.Dir(name), 0o700)
	}
	if err := os.WriteFile(r.Dir("file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := r.List()
	if err != nil || len(ids) != 1 || ids[0] != "ok" {
		t.Errorf("List() = %q, %v", ids, err)
	}
}
