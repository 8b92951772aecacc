//go:build !linux

package monitor

// StateOf says what became of p. Only Linux runs monitor processes.
func StateOf(p Proc) ProcState { return ProcGone }
