package plugbox

import "context"

// Run runs job's plugin in a fresh sandbox and returns once the plugin has
// exited and the sandbox is deleted. Cancelling ctx kills the plugin and
// deletes the sandbox; Run then returns the context's error, with the
// Result saying how the plugin was killed when it had started.
//
// A plugin's exit status, even a failure, is in Result.ExitCode with a nil
// error: the error is an *Error only when plugbox itself failed (a bundle
// it refused, a sandbox it could not create or delete), or ctx's error.
// When the manifest names "host" and job.Files leaves it out, the plugin
// gets a "host" socket that is at end-of-file (use Create to talk on it).
func Run(ctx context.Context, job Job) (*Result, error) {
	s, err := Create(ctx, job)
	if err != nil {
		return nil, err
	}
	if c := s.Channel(); c != nil {
		c.Close()
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s.Wait()
}
