package shimplan

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/plugbox/plugbox/internal/atomicfile"
	"github.com/plugbox/plugbox/seccompgen"
)

// bpfCacheDir is the directory, in the state root, that keeps compiled
// seccomp programs. A container ID cannot contain '@' (neither plugbox's
// nor libcontainer's rules allow it), so it never meets a container's
// directory.
const bpfCacheDir = "@bpf-cache"

// bpfMagic starts every cache file; the cache key follows it.
const bpfMagic = "PBBPF01\n"

// CompileCached returns seccompgen.Program(profile) as raw instructions,
// from root's cache when a start has compiled the same profile with the
// same plugbox binary before, so a bundle's profile (a foreign one too) is
// compiled once rather than at every start. Entries are keyed by the
// SHA-256 of the binary's build ID and the profile, written atomically,
// and trusted only when they belong to this user with mode 0600 in a 0700
// directory of this user; anything else is recompiled.
func CompileCached(root string, profile *specs.LinuxSeccomp) ([]byte, error) {
	key, ok := cacheKey(profile)
	if !ok {
		return compile(profile)
	}
	dir := filepath.Join(root, bpfCacheDir)
	if err := ownedDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, hex.EncodeToString(key))
	if prog, ok := readCached(path, key); ok {
		return prog, nil
	}
	prog, err := compile(profile)
	if err != nil {
		return nil, err
	}
	entry := append(append([]byte(bpfMagic), key...), prog...)
	if err := atomicfile.Write(path, entry, 0o600); err != nil {
		return nil, fmt.Errorf("seccomp program cache: %w", err)
	}
	trimCache(dir)
	return prog, nil
}

// bpfCacheMax bounds the cache: past it, a miss removes the least recently
// written half (entries of older plugbox builds never hit again).
const bpfCacheMax = 256

func trimCache(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= bpfCacheMax {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var files []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod < files[j].mod })
	for _, f := range files[:len(files)/2] {
		_ = os.Remove(filepath.Join(dir, f.name))
	}
}

func compile(profile *specs.LinuxSeccomp) ([]byte, error) {
	prog, err := seccompgen.Program(profile)
	if err != nil {
		return nil, err
	}
	return encodeProgram(prog), nil
}

// cacheKey hashes what the compiled program depends on: the binary that
// compiles it (libseccomp is linked in) and the profile.
func cacheKey(profile *specs.LinuxSeccomp) ([]byte, bool) {
	id := buildID()
	if id == nil {
		return nil, false
	}
	raw, err := json.Marshal(profile)
	if err != nil {
		return nil, false
	}
	h := sha256.New()
	h.Write([]byte("plugbox seccomp program v1\x00"))
	h.Write(id)
	h.Write([]byte{0})
	h.Write(raw)
	return h.Sum(nil), true
}

// buildID is the running executable's build ID (the GNU note, which hashes
// the linked file, else Go's), or nil when it has none.
var buildID = sync.OnceValue(func() []byte {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return nil
	}
	defer f.Close()
	for _, name := range []string{".note.gnu.build-id", ".note.go.buildid"} {
		if s := f.Section(name); s != nil {
			if data, err := s.Data(); err == nil && len(data) > 16 {
				return append([]byte(name+"\x00"), data...)
			}
		}
	}
	return nil
})

// ownedDir creates dir (0700) if needed and checks that it is a directory
// of this user that nobody else may write.
func ownedDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("seccomp program cache: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("seccomp program cache: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("seccomp program cache %s is not a directory of uid %d with mode 0700 (uid %d, mode %o): remove it, plugbox recreates it", dir, os.Geteuid(), st.Uid, st.Mode&0o7777)
	}
	return nil
}

// readCached returns the program in the cache file path when the file is
// this user's, private, and holds the entry for key.
func readCached(path string, key []byte) ([]byte, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return nil, false
	}
	head := len(bpfMagic) + len(key)
	if st.Size <= int64(head) || st.Size > int64(head+8*4096) {
		return nil, false
	}
	data, err := io.ReadAll(f)
	if err != nil || len(data) != int(st.Size) || string(data[:len(bpfMagic)]) != bpfMagic || !bytes.Equal(data[len(bpfMagic):head], key) {
		return nil, false
	}
	prog := data[head:]
	if len(prog)%8 != 0 {
		return nil, false
	}
	return prog, true
}
