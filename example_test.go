package plugbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/plugbox/plugbox"
)

// A thumbnailer run per request: the input image and an output pipe are
// its descriptors "input" and "output".
func ExampleRun() {
	in, err := os.Open("/srv/images/cat.png")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	r, w, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	thumb := make(chan []byte)
	go func() { data, _ := io.ReadAll(r); thumb <- data }()

	var stderr bytes.Buffer
	res, err := plugbox.Run(context.Background(), plugbox.Job{
		Bundle:  "/var/lib/app/plugins/thumbnailer",
		Stderr:  &stderr,
		Files:   []*os.File{in, w},
		Timeout: 10 * time.Second,
	})
	w.Close()
	if err != nil {
		log.Fatal(err) // plugbox itself failed: not the plugin's doing
	}
	data := <-thumb
	fmt.Printf("exit %d (%s), %d bytes of thumbnail\n", res.ExitCode, res.Reason, len(data))
	for _, v := range res.Violations {
		fmt.Printf("denied: %s (pid %d)\n", v.Syscall, v.Pid)
	}
}

// A long-lived plugin whose manifest lists "host" in "fds": one start, many
// requests over the channel.
func ExampleCreate() {
	ctx := context.Background()
	s, err := plugbox.Create(ctx, plugbox.Job{Bundle: "/var/lib/app/plugins/spellcheck"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Delete()
	if err := s.Start(); err != nil {
		log.Fatal(err)
	}
	ch := s.Channel()
	reply := make([]byte, 4096)
	for _, word := range []string{"recieve", "seperate"} {
		if _, err := fmt.Fprintln(ch, word); err != nil {
			log.Fatal(err)
		}
		n, err := ch.Read(reply)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s -> %s", word, reply[:n])
	}
	ch.CloseWrite() // the plugin sees end-of-file and exits
	res, err := s.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit", res.ExitCode)
}

func ExampleSandbox_State() {
	ctx := context.Background()
	s, err := plugbox.Create(ctx, plugbox.Job{Bundle: "/var/lib/app/plugins/thumbnailer"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Delete()
	st, err := s.State(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Status, st.Annotations["org.plugbox.enforced.seccomp"])
}

// A pool of four ready sandboxes: each job waits only for the plugin's start.
func ExampleNewPool() {
	ctx := context.Background()
	pool, err := plugbox.NewPool(ctx, plugbox.Job{Bundle: "/var/lib/app/plugins/markdown", Timeout: 5 * time.Second}, 4)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	var html bytes.Buffer
	res, err := pool.Run(ctx, plugbox.Request{Stdin: strings.NewReader("# Title\n"), Stdout: &html})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ExitCode, html.String())
}

// Authoring a bundle in the host's process: no plugbox binary needed.
func ExampleAuthor() {
	m := &plugbox.Manifest{
		Name:     "thumbnailer",
		Command:  []string{"/bin/thumbnailer", "--quality", "80"},
		Syscalls: []string{"base"},
		FDs:      []string{"input", "output"},
		Limits:   plugbox.Limits{Memory: 64 << 20, Timeout: "10s"},
	}
	if err := plugbox.Author("/var/lib/app/plugins/thumbnailer", "/usr/local/bin/thumbnailer", m, plugbox.AuthorOptions{}); err != nil {
		log.Fatal(err)
	}
}

// Learning the profile a plugin needs from one representative run.
func ExampleLearn() {
	in, err := os.Open("/srv/images/cat.png")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create("/tmp/thumb.png")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	l, err := plugbox.Learn(context.Background(), plugbox.LearnJob{
		Job: plugbox.Job{Bundle: "/var/lib/app/plugins/thumbnailer", Files: []*os.File{in, out}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("syscalls %v, extra %v, network %s\n", l.Groups, l.Extra, l.Network)
}
