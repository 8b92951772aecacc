// Command host is the example host application of package plugbox: it
// authors a sandbox bundle for the wordcount plugin, then runs the plugin
// once per input file, handing it the file as its "data" descriptor and
// the write end of a pipe as its "log", and prints what the plugin logged,
// how it ended and every system call its sandbox denied.
//
// It builds without cgo (CGO_ENABLED=0) and needs the plugbox binary
// (-plugbox, default "plugbox" on PATH) and root to run sandboxes.
//
//	host -plugin ./wordcount [-plugbox bin/plugbox] FILE...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugbox/plugbox"
)

func main() {
	plugin := flag.String("plugin", "", "the plugin executable to sandbox (required)")
	binary := flag.String("plugbox", "", "the plugbox binary (default: plugbox on PATH)")
	flag.Parse()
	if *plugin == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: host -plugin PATH [-plugbox PATH] FILE...")
		os.Exit(2)
	}
	if err := run(*binary, *plugin, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
}

func run(binary, plugin string, inputs []string) error {
	// The bundle's directories must be traversable by the sandbox's
	// mapped ids, so not a 0700 temporary directory.
	work, err := os.MkdirTemp("", "wordcount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	bundle := filepath.Join(work, "bundle")
	// The plugin gets exactly what this says: two descriptors, group
	// "base" (read, write, exit, memory), no files, no network.
	manifest := &plugbox.Manifest{
		Name:     "wordcount",
		Command:  []string{"/wordcount"},
		Syscalls: []string{"base"},
		// Static glibc reads the /proc/self/exe link as it starts.
		ExtraSyscalls: []string{"readlink"},
		FDs:           []string{"data", "log"},
		Limits:        plugbox.Limits{Memory: 32 << 20, Tmp: 1 << 20, Pids: 4, Timeout: "10s"},
	}
	if err := plugbox.Author(bundle, plugin, manifest, plugbox.AuthorOptions{}); err != nil {
		return err
	}
	fmt.Printf("authored %s for %s\n", bundle, plugin)
	for _, input := range inputs {
		if err := request(binary, bundle, input); err != nil {
			return err
		}
	}
	return nil
}

// request runs the plugin on one input file.
func request(binary, bundle, input string) error {
	data, err := os.Open(input)
	if err != nil {
		return err
	}
	defer data.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer logR.Close()
	logged := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(logR)
		logged <- string(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := plugbox.Run(ctx, plugbox.Job{
		Binary: binary,
		Bundle: bundle,
		Stderr: os.Stderr,
		Files:  []*os.File{data, logW},
	})
	logW.Close() // the plugin's copy is gone; now the reader sees end-of-file
	out := <-logged
	var perr *plugbox.Error
	if errors.As(err, &perr) {
		return fmt.Errorf("%s: %w", input, err)
	}
	fmt.Printf("\n== %s\n", input)
	fmt.Print(indent(out))
	if err != nil {
		fmt.Printf("   (%v)\n", err)
	}
	if res == nil {
		return nil
	}
	fmt.Printf("   plugin %s with status %d\n", res.Reason, res.ExitCode)
	if len(res.Violations) == 0 {
		fmt.Println("   no system call denied")
	}
	for _, v := range res.Violations {
		fmt.Printf("   denied: %s(%s) by pid %d\n", v.Syscall, args(v.Args), v.Pid)
	}
	return nil
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "   | " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n   | ") + "\n"
}

func args(a []uint64) string {
	parts := make([]string, 0, 3)
	for i := 0; i < len(a) && i < 3; i++ {
		parts = append(parts, fmt.Sprintf("%#x", a[i]))
	}
	return strings.Join(parts, ", ") + ", ..."
}
