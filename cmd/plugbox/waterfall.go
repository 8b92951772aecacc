package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/plugbox/plugbox/internal/trace"
)

// The start-up waterfall (internal/trace): with --debug plugbox prints, at
// exit, when each stage of the command ended; with PLUGBOX_TRACE=FILE it
// appends the stages to FILE as JSON lines (tests/integration/startbench
// turns them into medians). Off, it costs one clock read.

// mainStarted is when main began: the Go runtime and every package's init
// function are done by then.
var mainStarted int64

// traceDebug: --debug, so the waterfall is printed at exit.
var traceDebug bool

// startTrace turns the trace on when PLUGBOX_TRACE is set or --debug is
// given, and routes libcontainer's messages into it; call it once the
// logger is set up.
func startTrace(debug bool) {
	if os.Getenv(trace.EnvFile) == "" && !debug {
		return
	}
	trace.Start()
	traceDebug = debug
	if t0, err := strconv.ParseInt(os.Getenv(trace.EnvStart), 10, 64); err == nil {
		trace.Add(trace.Event{T: t0, PID: os.Getpid(), Stage: trace.StageExec})
	}
	trace.Add(trace.Event{T: mainStarted, PID: os.Getpid(), Stage: "cli: main (Go runtime and package init done)"})
	// libcontainer's init reports its stages as debug messages.
	logrus.SetLevel(logrus.DebugLevel)
	logrus.AddHook(trace.Hook{})
	if !debug {
		logrus.SetFormatter(trace.QuietDebug{Formatter: logrus.StandardLogger().Formatter})
	}
}

// finishTrace writes what the trace recorded.
func finishTrace() {
	if !trace.On() {
		return
	}
	trace.Mark("cli: exit")
	events := trace.Events()
	if path := os.Getenv(trace.EnvFile); path != "" {
		if err := trace.AppendFile(path, events); err != nil {
			logrus.Warn(err)
		}
	}
	if traceDebug {
		var buf bytes.Buffer
		_ = trace.WriteWaterfall(&buf, events)
		logrus.Debug("start-up waterfall (CLOCK_MONOTONIC):")
		for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			logrus.Debug(line)
		}
	}
}
