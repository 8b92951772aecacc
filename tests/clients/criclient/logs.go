package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// copyLog writes a CRI container log to stdout and stderr. The kubelet's
// log format, written by the runtime's shim, is one record per line:
//
//	TIMESTAMP STREAM TAG CONTENT
//
// STREAM is stdout or stderr; TAG is F for a record that ends a line of the
// container's output and P for a partial one (a long line split up), whose
// CONTENT continues in the next record of the stream without a newline.
func copyLog(r io.Reader, stdout, stderr io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		stream, tag, content, err := parseLogLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("log line %d: %w", n, err)
		}
		w := stdout
		if stream == "stderr" {
			w = stderr
		}
		if _, err := w.Write(content); err != nil {
			return err
		}
		if tag != "P" {
			if _, err := w.Write([]byte{'\n'}); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// parseLogLine splits one CRI log record into its stream, the first part of
// its tag (F or P) and its content.
func parseLogLine(line []byte) (stream, tag string, content []byte, err error) {
	f := bytes.SplitN(line, []byte{' '}, 4)
	if len(f) < 3 {
		return "", "", nil, fmt.Errorf("%q is not TIMESTAMP STREAM TAG CONTENT", line)
	}
	stream = string(f[1])
	if stream != "stdout" && stream != "stderr" {
		return "", "", nil, fmt.Errorf("stream %q is neither stdout nor stderr", stream)
	}
	tag = string(bytes.SplitN(f[2], []byte{':'}, 2)[0])
	if tag != "F" && tag != "P" {
		return "", "", nil, fmt.Errorf("tag %q is neither F nor P", f[2])
	}
	if len(f) == 4 {
		content = f[3]
	}
	return stream, tag, content, nil
}
