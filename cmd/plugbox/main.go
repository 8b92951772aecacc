// Command plugbox is a runc-compatible OCI runtime that runs untrusted
// plugins in layered sandboxes. Each verb lives in its own file.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/internal/trace"
	"github.com/plugbox/plugbox/sandbox"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitCode is an error that carries the process exit status plugbox must
// return (run's foreground process status), without a message.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// codedError is an error reported like any other but ending plugbox with
// its own exit status (255 for an exec that could not start, as runc).
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

func main() {
	mainStarted = trace.Now()
	app := newApp()
	err := app.Run(os.Args)
	finishTrace()
	if err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		logrus.Error(err)
		var recorded recordedError
		if logrus.StandardLogger().Out != os.Stderr && !errors.As(err, &recorded) {
			fmt.Fprintf(os.Stderr, "plugbox: %v\n", err)
		}
		var coded codedError
		if errors.As(err, &coded) {
			os.Exit(coded.code)
		}
		os.Exit(1)
	}
}

func newApp() *cli.App {
	installHelp()
	cmds := commands()
	addExamples(cmds, "")
	addCompletion(cmds)
	app := &cli.App{
		Name:    "plugbox",
		Usage:   "run untrusted plugins in OCI-bundle sandboxes (runc-compatible)",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "write log messages to this file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "not supported: plugbox manages cgroups directly (cgroupfs)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "rootless cgroup handling, ignoring cgroup permission errors: true, false or auto (when not root)"},
		},
		Before: func(ctx *cli.Context) error {
			if err := setupLogging(ctx); err != nil {
				return err
			}
			startTrace(ctx.Bool("debug"))
			return checkGlobalFlags(ctx)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main reports errors once
		Commands:       cmds,
		// Shell completion: plugbox completion bash|zsh|fish.
		EnableBashCompletion: true,
	}
	return app
}

// defaultRoot is systemRoot for root. For everyone else it is
// $XDG_RUNTIME_DIR/plugbox, else /run/user/UID/plugbox when that runtime
// directory is the caller's, else $TMPDIR/plugbox-UID; sandbox.New refuses
// the last one if another user planted it.
func defaultRoot() string {
	uid := os.Geteuid()
	if uid == 0 {
		return systemRoot(runtime.GOOS)
	}
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		return filepath.Join(xdg, "plugbox")
	}
	run := filepath.Join("/run/user", strconv.Itoa(uid))
	if st, err := os.Lstat(run); err == nil && st.IsDir() && int(st.Sys().(*syscall.Stat_t).Uid) == uid {
		return filepath.Join(run, "plugbox")
	}
	return filepath.Join(os.TempDir(), "plugbox-"+strconv.Itoa(uid))
}

// checkGlobalFlags refuses what plugbox cannot do, instead of ignoring it.
func checkGlobalFlags(ctx *cli.Context) error {
	if ctx.Bool("systemd-cgroup") {
		return errors.New("--systemd-cgroup: plugbox manages cgroups directly and has no systemd cgroup driver; configure the client for cgroupfs (podman: cgroup_manager = \"cgroupfs\"; containerd: SystemdCgroup = false)")
	}
	switch r := ctx.String("rootless"); r {
	case "auto", "true", "false":
	default:
		return fmt.Errorf("--rootless %q: use true, false or auto", r)
	}
	return nil
}

// rootlessCgroups reports whether cgroup permission errors are ignored, as
// runc's --rootless: auto means when plugbox does not run as root.
func rootlessCgroups(ctx *cli.Context) bool {
	switch ctx.String("rootless") {
	case "true":
		return true
	case "false":
		return false
	}
	return os.Geteuid() != 0
}

// systemRoot is root's state directory on goos: /run/plugbox, or on
// FreeBSD, which has no /run, /var/run/plugbox, which rc.d/cleanvar
// empties at boot so no state outlives the jails it describes.
func systemRoot(goos string) string {
	if goos == "freebsd" {
		return "/var/run/plugbox"
	}
	return "/run/plugbox"
}

// setupLogging applies --log, --log-format and --debug. Runtime callers such
// as containerd read the last error from a JSON log file.
func setupLogging(ctx *cli.Context) error {
	if ctx.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := ctx.String("log-format"); f {
	case "text":
		logrus.SetFormatter(&plainFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		logrus.SetFormatter(&plainFormatter{})
		return fmt.Errorf("--log-format %q: use text or json", f)
	}
	logrus.SetOutput(os.Stderr)
	if path := ctx.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log %s: %w", path, err)
		}
		logrus.SetOutput(f)
		if ctx.String("log-format") == "text" {
			logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true})
		}
	}
	return nil
}

// plainFormatter prints "plugbox: message" on stderr, as users expect from a
// command-line tool; debug lines keep their level.
type plainFormatter struct{}

func (plainFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if e.Level >= logrus.DebugLevel {
		return []byte("plugbox: debug: " + e.Message + "\n"), nil
	}
	if e.Level == logrus.WarnLevel {
		return []byte("plugbox: warning: " + e.Message + "\n"), nil
	}
	return []byte("plugbox: " + e.Message + "\n"), nil
}

// backend opens the platform backend under --root.
func backend(ctx *cli.Context) (sandbox.Backend, error) {
	return sandbox.New(ctx.String("root"))
}

// containerArg returns the ID argument of a verb, validated.
func containerArg(ctx *cli.Context) (string, error) {
	if ctx.NArg() < 1 {
		return "", fmt.Errorf("%s: missing container ID: usage: plugbox %s %s", ctx.Command.Name, ctx.Command.Name, ctx.Command.ArgsUsage)
	}
	id := ctx.Args().First()
	if err := validateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// loadContainer loads the container named by the verb's first argument.
func loadContainer(ctx *cli.Context) (sandbox.Container, error) {
	id, err := containerArg(ctx)
	if err != nil {
		return nil, err
	}
	b, err := backend(ctx)
	if err != nil {
		return nil, err
	}
	return b.Load(id)
}

// validateID accepts what runc accepts: letters, digits, '_', '+', '-', '.',
// but not "." or "..", and at most 255 bytes (it names a directory and a
// cgroup).
func validateID(id string) error { return sandbox.ValidateID(id) }

// writeJSON prints v as indented JSON, keeping '<', '>' and '&' as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
