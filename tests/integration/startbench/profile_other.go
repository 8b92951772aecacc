//go:build !linux || !cgo

package main

import (
	"errors"
	"io"
)

// writeProfile needs libseccomp (Linux, cgo).
func writeProfile(io.Writer) error {
	return errors.New("the reference profile is built with libseccomp: Linux with cgo only")
}
