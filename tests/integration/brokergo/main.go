// Command brokergo is the Go plugin of the broker tests: it asks plugbox's
// broker for files and connections over the explicit protocol
// (broker/client), one step per argument, printing "PROBE NAME RESULT".
//
//	open:NAME:PATH      Open(PATH, O_RDONLY), its contents, then a write
//	create:NAME:PATH    Open(PATH, O_WRONLY|O_CREATE|O_EXCL) and a write
//	connect:NAME:DEST   Dial(DEST) and the first line the server sends
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/plugbox/plugbox/broker/client"
)

func main() {
	c, err := client.FromEnv()
	if err != nil {
		fmt.Println("PROBE client denied", err)
		return
	}
	for _, step := range os.Args[1:] {
		kind, rest, _ := strings.Cut(step, ":")
		name, arg, _ := strings.Cut(rest, ":")
		switch kind {
		case "open":
			f, err := c.Open(arg, os.O_RDONLY)
			if err != nil {
				denied(name, err)
				continue
			}
			data, _ := io.ReadAll(io.LimitReader(f, 200))
			fmt.Printf("PROBE %s ok %s\n", name, strings.TrimSpace(string(data)))
			if _, err := f.Write([]byte("x")); err != nil {
				denied(name+"-write", err)
			} else {
				fmt.Printf("PROBE %s-write ok wrote\n", name)
			}
			f.Close()
		case "create":
			f, err := c.Open(arg, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			if err != nil {
				denied(name, err)
				continue
			}
			_, err = f.WriteString("made")
			f.Close()
			if err != nil {
				denied(name, err)
				continue
			}
			fmt.Printf("PROBE %s ok wrote\n", name)
		case "connect":
			conn, err := c.Dial(arg)
			if err != nil {
				denied(name, err)
				continue
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			fmt.Printf("PROBE %s ok %s\n", name, strings.TrimSpace(line))
		default:
			fmt.Printf("PROBE %s denied unknown-step\n", name)
		}
	}
}

func denied(name string, err error) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Printf("PROBE %s denied %s %v\n", name, errnoName(errno), err)
		return
	}
	fmt.Printf("PROBE %s denied other %v\n", name, err)
}

func errnoName(e syscall.Errno) string {
	for name, v := range map[string]syscall.Errno{
		"EACCES": syscall.EACCES, "ENOENT": syscall.ENOENT, "EEXIST": syscall.EEXIST, "ELOOP": syscall.ELOOP,
		"EBADF": syscall.EBADF, "EISDIR": syscall.EISDIR, "ECONNREFUSED": syscall.ECONNREFUSED, "EPERM": syscall.EPERM,
	} {
		if v == e {
			return name
		}
	}
	return fmt.Sprintf("errno%d", int(e))
}
