package monitor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat returns the state letter and the start time of pid from
// /proc/PID/stat.
func procStat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return fields[0][0], start, nil
}

// Self names the calling process.
func Self() (Proc, error) {
	_, start, err := procStat(os.Getpid())
	if err != nil {
		return Proc{}, err
	}
	return Proc{Pid: os.Getpid(), Start: start}, nil
}

// StateOf says what became of p.
func StateOf(p Proc) ProcState {
	if p.Pid <= 0 {
		return ProcGone
	}
	state, start, err := procStat(p.Pid)
	if err != nil || start != p.Start {
		return ProcGone
	}
	switch state {
	case 'Z', 'X', 'x':
		return ProcGone
	case 'T', 't':
		return ProcStopped
	}
	return ProcRunning
}
