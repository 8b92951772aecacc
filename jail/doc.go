// Package jail turns the runtime-spec freebsd.jail section into FreeBSD jail
// parameters and holds the thin syscall layer (jail_set/jail_attach/
// jail_remove, nmount, Capsicum) that applies them. Everything that can be
// decided without a FreeBSD kernel (parameter mapping, iovec encoding, mount
// planning, cap_rights_t encoding, kinfo_proc parsing) lives in files without
// build tags so it is tested on every OS; the *_freebsd.go files only make
// system calls.
package jail
