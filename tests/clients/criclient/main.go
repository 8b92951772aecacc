// Command criclient is the Kubernetes CRI client of the client suites
// (tests/clients/cri.bats). It speaks the CRI v1 gRPC API to a runtime's
// socket, as the kubelet does, with the part of crictl's command line the
// suite uses, so the suite runs unchanged with crictl itself (CRICTL=PATH).
//
// It exists for CI's budget: crictl (sigs.k8s.io/cri-tools) pulls in
// client-go and most of Kubernetes' API machinery and takes minutes to build
// on a cold machine; this needs only k8s.io/cri-api, gRPC and
// golang.org/x/net/websocket.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// exitError ends the program with Code after printing Msg (when not empty).
type exitError struct {
	Code int
	Msg  string
}

func (e *exitError) Error() string { return e.Msg }

// client holds the connection and the output streams every command uses.
type client struct {
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
	timeout time.Duration
	stdout  io.Writer
	stderr  io.Writer
}

// rpc returns a context bounded by the --timeout flag for one unary call.
func (c *client) rpc() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// rpcPlus returns a context for a call that may itself wait up to seconds
// (a stop's grace period, an exec's time limit): --timeout on top of that.
func (c *client) rpcPlus(seconds int64) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout+time.Duration(seconds)*time.Second)
}

// command is one subcommand: its argument synopsis, a line of help, and
// the function that parses its flags from args and runs it.
type command struct {
	synopsis string
	help     string
	run      func(c *client, args []string) error
}

// commands is filled in init: the commands' flag sets print their synopsis
// from it.
var commands map[string]command

func init() {
	commands = map[string]command{
		"info":     {"", "print the runtime's status and verbose info as JSON", cmdInfo},
		"images":   {"", "list images: one line per tag, with the image ID", cmdImages},
		"runp":     {"[--runtime HANDLER] POD.json", "run a pod sandbox, print its ID", cmdRunp},
		"create":   {"POD-ID CONTAINER.json POD.json", "create a container in a pod, print its ID", cmdCreate},
		"start":    {"ID...", "start containers", cmdStart},
		"inspect":  {"ID", "print a container's status and verbose info as JSON", cmdInspect},
		"inspectp": {"ID", "print a pod sandbox's status and verbose info as JSON", cmdInspectp},
		"exec":     {"[--sync [--timeout S]] ID CMD [ARG...]", "run a command in a container (streamed, or ExecSync with --sync)", cmdExec},
		"logs":     {"ID", "print a container's log (from the CRI log file)", cmdLogs},
		"stop":     {"[--timeout S] ID...", "stop containers (SIGTERM, SIGKILL after S seconds)", cmdStop},
		"rm":       {"[--force] ID...", "remove containers (--force stops them first)", cmdRm},
		"stopp":    {"ID...", "stop pod sandboxes", cmdStopp},
		"rmp":      {"[--force] [--all] [ID...]", "remove pod sandboxes (--force stops them first)", cmdRmp},
		"pods":     {"[-q]", "list pod sandboxes", cmdPods},
		"ps":       {"[-a] [-q]", "list running (-a: all) containers", cmdPs},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: criclient [--runtime-endpoint unix:///PATH] [--timeout DURATION] COMMAND [ARG...]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %-40s %s\n", n, commands[n].synopsis, commands[n].help)
	}
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.Msg != "" {
			fmt.Fprintln(os.Stderr, "criclient:", ee.Msg)
		}
		os.Exit(ee.Code)
	default:
		fmt.Fprintln(os.Stderr, "criclient:", err)
		os.Exit(1)
	}
}

// run parses the global flags, connects and runs one command.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("criclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	endpoint := fs.String("runtime-endpoint", "", "the CRI socket, unix:///PATH")
	fs.StringVar(endpoint, "r", "", "short for --runtime-endpoint")
	timeout := fs.Duration("timeout", 30*time.Second, "the limit of every unary call")
	fs.DurationVar(timeout, "t", 30*time.Second, "short for --timeout")
	if err := fs.Parse(args); err != nil {
		return &exitError{Code: 2}
	}
	if fs.NArg() == 0 {
		usage(stderr)
		return &exitError{Code: 2}
	}
	name := fs.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		return &exitError{Code: 2, Msg: fmt.Sprintf("unknown command %q (run criclient without arguments for the list)", name)}
	}
	if *endpoint == "" {
		return &exitError{Code: 2, Msg: "--runtime-endpoint is required, e.g. --runtime-endpoint unix:///run/containerd/containerd.sock"}
	}
	if !strings.HasPrefix(*endpoint, "unix://") {
		return &exitError{Code: 2, Msg: fmt.Sprintf("--runtime-endpoint %q: only unix:///PATH sockets are supported", *endpoint)}
	}
	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *endpoint, err)
	}
	defer conn.Close()
	c := &client{
		runtime: runtimeapi.NewRuntimeServiceClient(conn),
		images:  runtimeapi.NewImageServiceClient(conn),
		timeout: *timeout,
		stdout:  stdout,
		stderr:  stderr,
	}
	if err := cmd.run(c, fs.Args()[1:]); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// flags returns a flag set for command name that reports errors as usage
// errors naming the command.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("criclient "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: criclient %s %s\n", name, commands[name].synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs and checks the number of positional arguments
// (max < 0: no upper bound).
func parse(fs *flag.FlagSet, args []string, min, max int) error {
	if err := fs.Parse(args); err != nil {
		return &exitError{Code: 2}
	}
	if fs.NArg() < min || (max >= 0 && fs.NArg() > max) {
		fs.Usage()
		return &exitError{Code: 2}
	}
	return nil
}
