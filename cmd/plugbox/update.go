package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// updateCommand is runc's "update": containerd's shim sends `update
// --resources -` with a runtime-spec LinuxResources on stdin; people use
// the flags. Only the limits named change.
var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resource limits of a container",
	ArgsUsage: "ID",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "JSON file with a runtime-spec linux.resources ('-' for stdin); the other flags are then ignored"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes (suffixes k, m, g; -1 for none)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit in bytes"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory + swap limit in bytes (-1 for unlimited swap)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CFS period in microseconds"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CFS quota in microseconds per period"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period in microseconds"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime in microseconds per period"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to use, e.g. 0-1"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
		&cli.IntFlag{Name: "blkio-weight", Usage: "block I/O weight, 10 to 1000"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes"},
	},
	Action: func(ctx *cli.Context) error {
		r, err := updateResources(ctx)
		if err != nil {
			return err
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		return c.Update(r)
	},
}

// updateResources reads --resources, or builds the resources from flags.
func updateResources(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if in := ctx.String("resources"); in != "" {
		var src io.Reader = os.Stdin
		if in != "-" {
			f, err := os.Open(in)
			if err != nil {
				return nil, fmt.Errorf("--resources %s: %w", in, err)
			}
			defer f.Close()
			src = f
		}
		if err := json.NewDecoder(src).Decode(r); err != nil {
			return nil, fmt.Errorf("--resources %s: not a runtime-spec linux.resources object: %w", in, err)
		}
		return r, nil
	}
	mem := &specs.LinuxMemory{}
	for _, f := range []struct {
		flag string
		dst  **int64
	}{{"memory", &mem.Limit}, {"memory-reservation", &mem.Reservation}, {"memory-swap", &mem.Swap}} {
		if v := ctx.String(f.flag); v != "" {
			n, err := parseBytes(v)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %w", f.flag, v, err)
			}
			*f.dst = &n
		}
	}
	if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil {
		r.Memory = mem
	}
	cpu := &specs.LinuxCPU{Cpus: ctx.String("cpuset-cpus"), Mems: ctx.String("cpuset-mems")}
	for _, f := range []struct {
		flag string
		dst  **uint64
	}{{"cpu-period", &cpu.Period}, {"cpu-share", &cpu.Shares}, {"cpu-rt-period", &cpu.RealtimePeriod}} {
		if v := ctx.String(f.flag); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: not a non-negative number", f.flag, v)
			}
			*f.dst = &n
		}
	}
	for _, f := range []struct {
		flag string
		dst  **int64
	}{{"cpu-quota", &cpu.Quota}, {"cpu-rt-runtime", &cpu.RealtimeRuntime}} {
		if v := ctx.String(f.flag); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: not a number", f.flag, v)
			}
			*f.dst = &n
		}
	}
	if *cpu != (specs.LinuxCPU{}) {
		r.CPU = cpu
	}
	if ctx.IsSet("blkio-weight") {
		w := ctx.Int("blkio-weight")
		if w < 10 || w > 1000 {
			return nil, fmt.Errorf("--blkio-weight %d: use 10 to 1000", w)
		}
		weight := uint16(w)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &weight}
	}
	if ctx.IsSet("pids-limit") {
		n := ctx.Int64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	return r, nil
}

// parseBytes reads "-1", a number of bytes, or one with a k/m/g suffix
// (binary multiples, as runc's units.RAMInBytes).
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	num := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult, num = 1<<10, num[:n-1]
		case 'm':
			mult, num = 1<<20, num[:n-1]
		case 'g':
			mult, num = 1<<30, num[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: use bytes, or a number with k, m or g")
	}
	return n * mult, nil
}
