// Package shimplan plans what the exec shim (internal/shim) does for one
// process of a plugbox sandbox, on the host, before libcontainer starts it:
// it compiles the seccomp profile once per profile and binary (a cache in
// the state root), checks that the shim can run the plugin under it,
// converts the Landlock policy and splits process.rlimits between
// libcontainer and the shim, and rewrites the libcontainer process to exec
// the shim with its configuration.
//
// The shim is what libcontainer execs in place of the plugin when
// plugbox's own layers apply. It applies the layers that must come last
// and that libcontainer does not offer: Landlock, process.rlimits and the
// seccomp filter, hands the seccomp listener to the monitor, and execs the
// plugin. Loading the filter there, after libcontainer's own setup and the
// start handshake, means the profile filters only the plugin.
package shimplan
