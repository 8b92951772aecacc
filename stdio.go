package plugbox

import (
	"io"
	"os"
	"sync"
)

// Request is one job for a pooled sandbox: its standard streams, as in
// Job (nil means /dev/null; streams are copied through pipes).
type Request struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// stdio is the plugin's standard streams: the descriptors plugbox gets,
// and the copies between pipes and the host's readers and writers.
type stdio struct {
	child     [3]*os.File // plugbox's stdin, stdout, stderr; nil is /dev/null
	childEnds []*os.File  // pipe ends of child, closed here once plugbox runs
	in        *os.File    // write end of the stdin pipe, when one
	out       [2]*os.File // read ends of the stdout and stderr pipes
	pumps     []func()    // copies to start once plugbox runs
	copies    sync.WaitGroup
}

// newStdio prepares job's streams; late makes every stream a pipe whose
// copy attach starts.
func newStdio(job Job, late bool) (*stdio, error) {
	st := &stdio{}
	if late {
		return st, st.pipes(true, true, true)
	}
	stdin, inFile := job.Stdin.(*os.File)
	stdout, outFile := job.Stdout.(*os.File)
	stderr, errFile := job.Stderr.(*os.File)
	if err := st.pipes(job.Stdin != nil && !inFile, job.Stdout != nil && !outFile, job.Stderr != nil && !errFile); err != nil {
		return nil, err
	}
	if inFile {
		st.child[0] = stdin
	}
	if outFile {
		st.child[1] = stdout
	}
	if errFile {
		st.child[2] = stderr
	}
	st.attach(Request{Stdin: job.Stdin, Stdout: job.Stdout, Stderr: job.Stderr})
	return st, nil
}

// pipes makes a pipe for each stream asked for.
func (s *stdio) pipes(in, out, errs bool) error {
	if in {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		s.child[0], s.in = r, w
		s.childEnds = append(s.childEnds, r)
	}
	for i, want := range []bool{out, errs} {
		if !want {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			s.close()
			return err
		}
		s.child[1+i], s.out[i] = w, r
		s.childEnds = append(s.childEnds, w)
	}
	return nil
}

// attach sets the copies between the pipes and req's streams (nil: end of
// file, or discard); they start once plugbox runs, or at once if it does.
func (s *stdio) attach(req Request) {
	if s.in != nil {
		in, src := s.in, req.Stdin
		s.pumps = append(s.pumps, func() {
			// Not waited for: src may block long after the plugin is gone.
			go func() {
				if src != nil {
					_, _ = io.Copy(in, src)
				}
				in.Close()
			}()
		})
	}
	for i, dst := range []io.Writer{req.Stdout, req.Stderr} {
		r := s.out[i]
		if r == nil {
			continue
		}
		if dst == nil {
			dst = io.Discard
		}
		s.copies.Add(1)
		s.pumps = append(s.pumps, func() {
			go func() {
				defer s.copies.Done()
				_, _ = io.Copy(dst, r)
			}()
		})
	}
	if s.childEnds == nil { // plugbox already runs
		s.run()
	}
}

// started is called once plugbox runs: the child's pipe ends are its now.
func (s *stdio) started() {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
	s.run()
}

func (s *stdio) run() {
	for _, p := range s.pumps {
		p()
	}
	s.pumps = nil
}

// wait waits for the plugin's output to be copied.
func (s *stdio) wait() { s.copies.Wait() }

// abort ends the output copies, for a plugbox that had to be killed
// (whatever still holds the pipes is past caring about).
func (s *stdio) abort() {
	for _, r := range s.out {
		if r != nil {
			r.Close()
		}
	}
}

// close releases the host's pipe ends.
func (s *stdio) close() {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
	if s.in != nil {
		s.in.Close()
	}
	s.abort()
}
