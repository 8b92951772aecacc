package shimplan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbox/plugbox/seccompgen"
)

func TestBPFCache(t *testing.T) {
	if buildID() == nil {
		t.Fatal("the test binary has no build ID: the cache would be off")
	}
	root := t.TempDir()
	profile, err := seccompgen.Generate(seccompgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := cacheKey(profile)
	if !ok {
		t.Fatal("no cache key")
	}
	path := filepath.Join(root, bpfCacheDir, hex.EncodeToString(key))

	t.Run("a miss compiles and stores the program", func(t *testing.T) {
		got, err := CompileCached(root, profile)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("compileCached: %d bytes, %v; want the %d bytes Program gives", len(got), err, len(want))
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("cache entry %s: %v, %v", path, st, err)
		}
		dir, _ := os.Stat(filepath.Dir(path))
		if dir.Mode().Perm() != 0o700 {
			t.Errorf("cache directory mode %o, want 0700", dir.Mode().Perm())
		}
	})
	// A recognisable program in the entry shows whether it was read.
	marker := bytes.Repeat([]byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}, 3) // RET ALLOW x3
	plant := func(t *testing.T, mode os.FileMode) {
		t.Helper()
		entry := append(append([]byte(bpfMagic), key...), marker...)
		if err := os.WriteFile(path, entry, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("a hit reads the entry", func(t *testing.T) {
		plant(t, 0o600)
		got, err := CompileCached(root, profile)
		if err != nil || !bytes.Equal(got, marker) {
			t.Fatalf("compileCached after planting an entry: %v, %v: want the planted program", got, err)
		}
	})
	t.Run("an entry others may write is recompiled", func(t *testing.T) {
		plant(t, 0o622)
		got, err := CompileCached(root, profile)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("compileCached over a group-writable entry: %d bytes, %v: want a fresh compile", len(got), err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("the entry was not replaced: mode %o", st.Mode().Perm())
		}
	})
	t.Run("an entry under another key is not used", func(t *testing.T) {
		other, err := seccompgen.Generate(seccompgen.Options{Groups: []string{"fs-read", "net-client"}})
		if err != nil {
			t.Fatal(err)
		}
		otherKey, _ := cacheKey(other)
		if bytes.Equal(otherKey, key) {
			t.Fatal("two profiles share a cache key")
		}
		// The right name, the wrong key inside: a renamed entry.
		entry := append(append([]byte(bpfMagic), otherKey...), marker...)
		if err := os.WriteFile(path, entry, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := CompileCached(root, profile); !bytes.Equal(got, want) {
			t.Error("an entry whose key does not match its name was used")
		}
	})
	t.Run("a cache directory others may write is refused", func(t *testing.T) {
		dir := filepath.Join(root, bpfCacheDir)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		_, err := CompileCached(root, profile)
		if err == nil || !strings.Contains(err.Error(), "remove it") {
			t.Errorf("compileCached with a 0777 cache directory: %v, want a refusal naming the fix", err)
		}
	})
	t.Run("a symlinked cache directory is refused", func(t *testing.T) {
		elsewhere := t.TempDir()
		root2 := t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(root2, bpfCacheDir)); err != nil {
			t.Fatal(err)
		}
		if _, err := CompileCached(root2, profile); err == nil {
			t.Error("compileCached through a symlinked cache directory: no error")
		}
		if left, _ := os.ReadDir(elsewhere); len(left) != 0 {
			t.Errorf("wrote through the link: %v", left)
		}
	})
}

func TestBPFCacheIsBounded(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, bpfCacheDir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < bpfCacheMax+10; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("old%03d", i)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	profile, err := seccompgen.Generate(seccompgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileCached(root, profile); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) > bpfCacheMax/2+20 {
		t.Errorf("%d entries left after a miss over a full cache, want about %d", len(left), bpfCacheMax/2)
	}
	key, _ := cacheKey(profile)
	if _, err := os.Stat(filepath.Join(dir, hex.EncodeToString(key))); err != nil {
		t.Errorf("the new entry was trimmed: %v", err)
	}
}
