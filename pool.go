package plugbox

import (
	"context"
	"errors"
	"sync"
)

// ErrPoolClosed is returned by a Pool's Start and Run after Close.
var ErrPoolClosed = errors.New("plugbox pool closed")

// Pool keeps sandboxes of one bundle created and ready, so that a job only
// waits for the plugin's start, not for the sandbox's creation (a warm
// start): Start takes a ready sandbox, starts it with the job's streams and
// creates a replacement in the background.
//
// Every pooled sandbox is created from the same Job: its Files are passed
// to each of them, its ID must be empty (each sandbox gets a fresh one),
// and its streams are ignored (each job brings its own in a Request). The
// Timeout counts from each job's start. A plugin that needs per-job data
// beyond its streams can receive it over its "host" channel (Create's rule
// applies), which can also carry descriptors (SCM_RIGHTS).
type Pool struct {
	job  Job
	size int

	idle   chan *Sandbox
	ctx    context.Context // governs idle sandboxes; Close cancels it
	cancel context.CancelFunc
	fills  sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	lastErr error // the last background creation's failure
}

// NewPool creates size sandboxes from job and returns the pool once they
// are ready; ctx bounds only that. Close deletes them.
func NewPool(ctx context.Context, job Job, size int) (*Pool, error) {
	if size < 1 {
		return nil, &Error{Op: "pool", Message: "pool size must be 1 or more"}
	}
	if job.ID != "" {
		return nil, &Error{Op: "pool", Message: "Job.ID must be empty for a pool: each sandbox gets a fresh ID"}
	}
	job.Stdin, job.Stdout, job.Stderr = nil, nil, nil
	pctx, cancel := context.WithCancel(context.Background())
	p := &Pool{job: job, size: size, idle: make(chan *Sandbox, size), ctx: pctx, cancel: cancel}
	for range size {
		s, err := p.create(ctx)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.idle <- s
	}
	return p, nil
}

// create makes one sandbox with late streams, governed by the pool until
// a job takes it.
func (p *Pool) create(ctx context.Context) (*Sandbox, error) {
	s, err := create(ctx, p.job, true)
	if err != nil {
		return nil, err
	}
	s.rebind(p.ctx)
	return s, nil
}

// Start takes a ready sandbox (or, when none is, creates one), gives it
// req's streams, starts the plugin and returns the running sandbox: talk to
// it on its Channel, then Wait. ctx governs the sandbox from now on, as in
// Create.
func (p *Pool) Start(ctx context.Context, req Request) (*Sandbox, error) {
	for attempt := 0; ; attempt++ {
		s, warm, err := p.take(ctx)
		if err != nil {
			return nil, err
		}
		s.rebind(ctx)
		s.io.attach(req)
		err = s.Start()
		if err == nil {
			return s, nil
		}
		// A ready sandbox can have died meanwhile (killed from outside):
		// take the next one.
		if !warm || ctx.Err() != nil || attempt >= p.size {
			return nil, err
		}
	}
}

// take returns a ready sandbox, and starts its replacement, or when none
// is ready creates one (warm says which).
func (p *Pool) take(ctx context.Context) (s *Sandbox, warm bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrPoolClosed
	}
	select {
	case s = <-p.idle:
		p.fills.Add(1)
		p.mu.Unlock()
		go p.refill()
		return s, true, nil
	default:
	}
	p.mu.Unlock()
	s, err = create(ctx, p.job, true)
	return s, false, err
}

// Run runs one job in a ready sandbox and returns how the plugin ended, as
// Run does.
func (p *Pool) Run(ctx context.Context, req Request) (*Result, error) {
	s, err := p.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Wait()
}

// refill creates a sandbox to replace one a job took (take counted it in
// fills).
func (p *Pool) refill() {
	defer p.fills.Done()
	s, err := p.create(p.ctx)
	if err != nil {
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = s.Delete()
		return
	}
	p.idle <- s // never blocks: one replacement per sandbox taken
	p.mu.Unlock()
}

// Err returns the last failure to create a replacement sandbox, if any;
// Start then creates one itself, and reports its failure.
func (p *Pool) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Close deletes the ready sandboxes and waits for replacements being
// created; sandboxes taken by Start are the caller's. It returns once
// nothing of the idle sandboxes is left.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel() // the idle sandboxes go, and creations in flight stop
	p.fills.Wait()
	close(p.idle)
	var errs []error
	for s := range p.idle {
		if err := s.Delete(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
