// Package seccompgen turns syscall permission groups into a default-deny
// seccomp profile (specs.LinuxSeccomp), explains what a profile does with a
// syscall, and turns the calls seen in learning mode into a minimal profile.
//
// The policy half (Groups, Policy and its Actions, Generate, Route, Decide,
// Learn, Explain, Minimize) is pure Go and builds on every OS, so bundles can
// be authored and audited anywhere.
// The Linux half (Compile, Program, Export, ResolveNative, SyscallName) uses
// libseccomp through cgo and lives in _linux.go files.
//
// # Profile shape
//
// A generated profile pins the native architecture (x86_64 or aarch64; x32,
// i386 and arm32 calls hit libseccomp's bad-architecture action), allows the
// syscalls of the chosen groups, and denies the rest in three ways:
//
//   - the default action (the policy's: EPERM unless Options.Violations
//     says otherwise, see Actions) for every call that is not allowed,
//     including calls whose arguments fail a group's argument filter, and
//     per-call actions (syscallActions) as rules of their own; for clone,
//     socket and open/openat, as rules for the arguments the allow rules do
//     not match. Under a default that lets calls run (log, audit) the
//     NeverGranted calls and argument patterns stay EPERM;
//   - ENOSYS for clone3 and (without fs-write) openat2, whose flags live in
//     a struct seccomp cannot read, so glibc falls back to clone and openat,
//     which the filter can inspect;
//   - ENOSYS for syscalls newer than the profile: every syscall in plugbox's
//     table is named in the profile (the last two rules list the denied
//     ones), so the highest number named is the newest syscall plugbox
//     knows, and runc's libcontainer prepends a stub that answers ENOSYS
//     above that number (libcontainer/seccomp/patchbpf). libc and language
//     runtimes treat ENOSYS as "not implemented here" and fall back, where
//     EPERM would make them fail (moby#42680). Program builds the same stub
//     for filters plugbox loads itself, taking the bound from plugbox's
//     table: libseccomp 2.5.4's stops at 456, so the calls named after it
//     (statmount 457 ... file_setattr 469) reach the profile's action.
//
// Unconditional allow rules are one entry per syscall: the kernel caches
// argument-free ALLOWs (Linux 5.11+) so hot calls skip the filter, and more
// than 32 entries makes runc turn on libseccomp's binary-tree layout, which
// keeps the denied and argument-checked calls cheap. Argument checks are
// only on clone, socket, ioctl, personality and, in fs-read, open/openat.
package seccompgen
