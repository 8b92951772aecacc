package shim

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// build holds the shim the Makefile built (build/plugbox-shim), or only
// the README that says how to build it.
//
//go:embed build
var build embed.FS

const binaryName = "build/plugbox-shim"

// ErrNotBuilt is returned when this plugbox was built without the shim.
var ErrNotBuilt = errors.New("plugbox was built without its exec shim (internal/shim/build/plugbox-shim): build it with make build")

// Binary returns the embedded shim executable.
func Binary() ([]byte, error) {
	data, err := build.ReadFile(binaryName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotBuilt
	}
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the embedded exec shim is not an ELF executable: %w (rebuild with make build)", err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if f.Machine != want {
		return nil, fmt.Errorf("the embedded exec shim is for %s, plugbox for %s: rebuild with make build", f.Machine, runtime.GOARCH)
	}
	return data, nil
}

var executable struct {
	once sync.Once
	file *os.File
	err  error
}

// Executable returns a sealed memfd holding the shim, made once per
// process: mode 0111 (the kernel marks a process exec'd from a file it
// cannot read non-dumpable) and sealed against writes, resizing and mode
// changes. The descriptor is close-on-exec; pass a dup of it.
func Executable() (*os.File, error) {
	executable.once.Do(func() {
		executable.file, executable.err = makeExecutable()
	})
	return executable.file, executable.err
}

func makeExecutable() (*os.File, error) {
	data, err := Binary()
	if err != nil {
		return nil, err
	}
	f, err := sealedMemfd("plugbox-shim", data, true)
	if err != nil {
		return nil, fmt.Errorf("exec shim: %w", err)
	}
	return f, nil
}

// ConfigFile returns a sealed memfd holding c's encoding, for the shim's
// configuration descriptor.
func ConfigFile(c *Config) (*os.File, error) {
	data, err := c.Encode()
	if err != nil {
		return nil, err
	}
	f, err := sealedMemfd("plugbox-shim-config", data, false)
	if err != nil {
		return nil, fmt.Errorf("exec shim configuration: %w", err)
	}
	return f, nil
}

// Seals that keep a memfd's content as written (F_SEAL_EXEC, Linux 6.3+,
// also fixes its mode).
const (
	sealContent = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	sealExec    = 0x20
	mfdExec     = 0x10 // MFD_EXEC, Linux 6.3+
)

func sealedMemfd(name string, data []byte, exe bool) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	if exe {
		flags |= mfdExec
	}
	fd, err := unix.MemfdCreate(name, flags)
	if errors.Is(err, unix.EINVAL) && exe {
		fd, err = unix.MemfdCreate(name, flags&^mfdExec) // before Linux 6.3
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			return nil, fmt.Errorf("write memfd: %w", err)
		}
		rest = rest[n:]
	}
	if exe {
		if err := unix.Fchmod(fd, 0o111); err != nil {
			return nil, fmt.Errorf("chmod memfd: %w", err)
		}
	} else if err := unix.Fchmod(fd, 0o400); err != nil {
		return nil, fmt.Errorf("chmod memfd: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealContent|sealExec); errors.Is(err, unix.EINVAL) {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealContent)
		if err != nil {
			return nil, fmt.Errorf("seal memfd: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	ok = true
	return f, nil
}
