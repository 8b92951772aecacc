// Package plugbox runs untrusted plugins in plugbox sandboxes from a Go host
// program: one job at a time (Run), long-lived plugins the host talks to
// over a socket (Create and Sandbox), a pool of created sandboxes for warm
// starts (Pool), bundle authoring (Author) and learning a seccomp profile
// (Learn).
//
// # How it works, and why
//
// The package drives the plugbox binary, the way containerd's go-runc drives
// runc: every sandbox is one "plugbox run" child process of the host, found
// on PATH or named by Job.Binary. It does not set up sandboxes in the host's
// own process, because runc's libcontainer, which plugbox's Linux backend is
// built on, can only work inside a program made for it: the program must
// call libcontainer's init from its main when re-executed as the
// container's init, and its nsenter package needs cgo and a C constructor
// that runs before the Go runtime in every process of the program; the
// seccomp compiler links libseccomp through cgo. A host importing this
// package needs none of that: no hook in its main, no cgo, no libseccomp
// (it builds with CGO_ENABLED=0). Authoring calls package bundle directly,
// which is pure Go. What the separate process costs is one fork and exec
// of a static binary per sandbox, small beside the sandbox's own start-up;
// in exchange a crash or leak in the runtime stays out of the host, and the
// host and the plugbox command line share one implementation and one state
// root (a sandbox started here is listed by "plugbox list").
//
// The host's process stays the parent of each "plugbox run" and holds one
// end of a socket pair with it (run --hold-fd): plugbox reports the
// sandbox created on it and starts the plugin when the host says so, and
// when the host closes it, cancels the context, or dies, plugbox kills the
// plugin and deletes the sandbox. How the plugin ended (exit status, the
// signal, a timeout, the calls seccomp denied) comes back in a status file
// (run --status-file), never inferred from plugbox's exit status, so a
// plugin that exits 1 is not taken for plugbox failing; plugbox's own
// failures are returned as *Error.
//
// Sandboxes need what the plugbox binary needs: root, or an unprivileged
// user where the host allows user namespaces and delegates cgroups.
package plugbox
