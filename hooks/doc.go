// Package hooks holds the OCI hooks plugbox ships, which any runtime (runc,
// crun, plugbox) runs from a config.json's "hooks" as `plugbox hook NAME`,
// with the container's state JSON on standard input:
//
//   - check, a createRuntime hook, audits the bundle's config.json as
//     'plugbox check' does and refuses (non-zero exit, the findings on
//     standard error) a configuration rated HIGH: policy enforcement for
//     podman and containerd users.
//   - record, a createRuntime hook, starts a recorder that writes, one JSON
//     line each, the calls the kernel reports the container's seccomp filter
//     denied (its audit records, type 1326, read from /dev/kmsg; no auditd
//     needed), attributed to the container by following its processes'
//     forks (the proc connector) from its init on.
//
// The kernel reports a filter's kill, kill-thread and log actions on its
// own, and its errno and trap actions only for filters loaded with
// SECCOMP_FILTER_FLAG_LOG: for a profile that fails calls with an errno and
// lacks the flag, nothing outside the container can see a denial, and the
// recorder says so in its first line. (plugbox's own monitor logs such
// denials for bundles that ask for it.)
package hooks
