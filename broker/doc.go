// Package broker hands a sandboxed plugin the host files and connections its
// manifest's "broker" section names, and nothing else.
//
// Policy (Spec, Compile, Policy.DecideOpen, Policy.MatchConnect) is pure Go:
// rules are decoded once into typed values and every decision is made on
// plugbox's own copy of a path or address. Host carries out a grant on the
// host: files are opened beneath a descriptor of the rule's directory
// without following any symbolic link, checked to be regular files, and
// given no more rights than the rule (a Limiter adds Capsicum limits on
// FreeBSD). Two ways reach it: Transparent (Linux) answers the plugin's own
// open, openat, openat2 and connect calls, which its seccomp filter routes
// to plugbox's monitor, installing descriptors with
// SECCOMP_IOCTL_NOTIF_ADDFD; Service answers the explicit protocol (see
// ParseRequest) on the socket the plugin gets as descriptor "broker", with
// the clients in broker/client. Every grant and refusal becomes a Record.
package broker
