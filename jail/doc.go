// Package jail is plugbox's FreeBSD layer: it turns the runtime-spec
// freebsd.jail section into jail parameters, mounts into nmount(2) plans,
// limits into rctl rules and descriptors into Capsicum rights, checks devfs
// rulesets, and decodes what the kernel hands back (kinfo_proc, kinfo_file,
// devfs rules, ldconfig hints, ktrace records). All of that is pure Go
// without build tags, tested on every OS against layouts taken from the
// FreeBSD 14 headers.
//
// Every system call goes through Sys, one method per call: HostSys
// (sys_freebsd.go) makes them, and jailtest.Fake records them against a
// small model of the kernel, so the sequences that use them (package
// sandbox) are tested on any OS too.
package jail
