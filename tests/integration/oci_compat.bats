#!/usr/bin/env bats
# Bundles shaped the way podman, containerd's CRI and the OCI validation
# suite send them: a seccomp profile without process.noNewPrivileges, the
# default capabilities, /proc mounted. plugbox must behave as runc does.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

# client_profile writes a client-style profile (allow by default, a few
# calls denied, x86 architectures listed as podman does) into the bundle,
# with noNewPrivileges unset.
client_profile() {
	jq_config "$BUNDLE" '.process.noNewPrivileges = false
		| .linux.seccomp = {
			defaultAction: "SCMP_ACT_ALLOW",
			architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			syscalls: [
				{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1},
				{names: ["socketcall", "_llseek"], action: "SCMP_ACT_ALLOW"}
			]}'
}

@test "a seccomp profile without noNewPrivileges is loaded and enforced, as runc does" {
	make_bundle "$BUNDLE" sh -c 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status; mkdir /tmp/x 2>&1; echo done'
	client_profile
	run -0 pb run --bundle "$BUNDLE" "$(cid nnp)"
	[[ "$output" == *"NoNewPrivs:"*"0"* ]]
	[[ "$output" == *"Seccomp:"*"2"* ]]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *"done" ]]
}

@test "create then start of a client bundle runs its program" {
	make_bundle "$BUNDLE" sh -c 'echo program-ran'
	client_profile
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid cs)"
	run -0 pb start "$(cid cs)"
	wait_status "$(cid cs)" stopped
	wait_file_line "$(ctr_out "$(cid cs)")" program-ran
	run -0 pb delete "$(cid cs)"
}

@test "plugbox's layers with noNewPrivileges false fail create, naming the field" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.noNewPrivileges = false
		| .annotations["org.plugbox.landlock"] = "{\"readOnly\": [\"/\"]}"'
	run -1 pb run --bundle "$BUNDLE" "$(cid ll)"
	error_line "process.noNewPrivileges" "org.plugbox.landlock"
	root_empty
}

# suite_profile gives the bundle a profile without the calls runc's
# libcontainer v1.5.2 makes after loading a filter (statx, openat2 and
# close_range, as in the OCI validation suite's default profile, which
# predates them; getcwd, which its linux_seccomp test denies), with
# noNewPrivileges unset. "$1" = keep-getcwd leaves getcwd allowed, for
# runc 1.1, which calls it after its loader.
suite_profile() {
	local getcwd='{names: ["getcwd"], action: "SCMP_ACT_ERRNO", errnoRet: 1}'
	[ "${1:-}" = keep-getcwd ] && getcwd='{names: ["getcwd"], action: "SCMP_ACT_ALLOW"}'
	jq_config "$BUNDLE" ".process.noNewPrivileges = false
		| .linux.seccomp = {
			defaultAction: \"SCMP_ACT_ALLOW\",
			architectures: [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],
			syscalls: [
				{names: [\"statx\", \"openat2\", \"close_range\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 38},
				{names: [\"mkdir\", \"mkdirat\"], action: \"SCMP_ACT_ERRNO\", errnoRet: 1},
				$getcwd
			]}"
}

# What the program reports about itself: its capability sets, whether a
# filter is on and no_new_privs, and one denied call.
STATUS_PROBE='grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status; mkdir /tmp/x 2>/dev/null || echo mkdir-denied; echo ran'

# runc_output ID runs the bundle with Debian's runc (private root) and
# prints its output: the reference plugbox must match.
runc_output() {
	[ -x /usr/sbin/runc ] || { echo "/usr/sbin/runc is missing: install Debian's runc (make deps)" >&2; return 1; }
	/usr/sbin/runc --root "$BATS_TEST_TMPDIR/runc-root" run --bundle "$BUNDLE" "$1" </dev/null
}

@test "a profile without statx, openat2, close_range and getcwd runs its program, filtered, with runc's capabilities" {
	make_bundle "$BUNDLE" sh -c "$STATUS_PROBE"
	suite_profile
	# libcontainer v1.5.2's own loader failed here: "error closing exec fds:
	# ... statx(STATX_MNT_ID_...): function not implemented".
	run -0 pb run --bundle "$BUNDLE" "$(cid suite)"
	local plugbox="$output"
	[[ "$plugbox" == *"Seccomp:"*"2"* ]]
	[[ "$plugbox" == *mkdir-denied* ]]
	[[ "$plugbox" == *ran ]]
	# No CAP_SYS_ADMIN (bit 21), which the shim held to load the filter:
	# exactly the bundle's AUDIT_WRITE, KILL and NET_BIND_SERVICE.
	[[ "$plugbox" == *"CapEff:"*"0000000020000420"* ]]
	[[ "$plugbox" == *"CapBnd:"*"0000000020000420"* ]]
	# runc 1.1 runs the same bundle (getcwd allowed: it calls it after its
	# loader) and gives its program the same status lines.
	suite_profile keep-getcwd
	run -0 runc_output "$(cid suite-runc)"
	[ "$output" = "$plugbox" ]
}

@test "as a user other than root with ambient capabilities, and in a process exec'd into it, as under runc" {
	make_bundle "$BUNDLE" sh -c "$STATUS_PROBE"
	suite_profile keep-getcwd
	jq_config "$BUNDLE" '.process.user = {uid: 1000, gid: 1000}
		| .process.capabilities = {bounding: ["CAP_NET_BIND_SERVICE", "CAP_KILL"], effective: ["CAP_NET_BIND_SERVICE"],
			permitted: ["CAP_NET_BIND_SERVICE"], inheritable: ["CAP_NET_BIND_SERVICE"], ambient: ["CAP_NET_BIND_SERVICE"]}'
	run -0 runc_output "$(cid user-runc)"
	local want="$output"
	[[ "$want" == *"CapAmb:"*"0000000000000400"* ]]
	run -0 pb run --bundle "$BUNDLE" "$(cid user)"
	[ "$output" = "$want" ]
	# An exec'd process gets the container's filter and capabilities too.
	set_args "$BUNDLE" sleep 30
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$(cid user-exec)"
	run -0 pb exec "$(cid user-exec)" sh -c "$STATUS_PROBE"
	[ "$output" = "$want" ]
}

@test "a client profile with RLIMIT_AS 64 MiB and a 9 GiB stack: the program runs under both" {
	# The shim, which loads a client's profile now, sets process.rlimits
	# right before the program (libcontainer only raises hard limits), and
	# loads a filter compiled on the host: nothing builds one under them.
	make_bundle "$BUNDLE" sh -c 'ulimit -v; ulimit -s; echo ran'
	client_profile
	jq_config "$BUNDLE" '.process.rlimits = [{type: "RLIMIT_AS", soft: 67108864, hard: 67108864},
		{type: "RLIMIT_STACK", soft: 9663676416, hard: 9663676416}]'
	run -0 pb run --bundle "$BUNDLE" "$(cid as)"
	[ "$output" = $'65536\n9437184\nran' ]
}

@test "a client bundle whose program is not in the root filesystem fails create in one line naming it" {
	make_bundle "$BUNDLE" /no/such/program
	suite_profile
	run -1 pb create --bundle "$BUNDLE" "$(cid missing)"
	error_line 'process.args[0] "/no/such/program" is not an executable'
	root_empty
}

@test "linux.mountLabel on a host without SELinux is left out, as crun does" {
	[ ! -e /sys/fs/selinux/enforce ] || skip "this host has SELinux: the label applies there"
	make_bundle "$BUNDLE" echo labelled
	jq_config "$BUNDLE" '.linux.mountLabel = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"'
	# libcontainer passed context="..." to every mount, which this kernel
	# refuses: "error mounting "tmpfs" to rootfs at "/dev": ... invalid argument".
	run -0 pb run --bundle "$BUNDLE" "$(cid label)"
	[ "$output" = labelled ]
}

@test "linux.resources.memory.kernelTCP is set on a cgroup v1 memory hierarchy, as crun does" {
	local pid file
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" '.linux.resources.memory = {limit: 268435456, kernelTCP: 50593792}'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid tcp)"
	pid="$(pid_of "$(cid tcp)")"
	file="$(awk -F: '$2 == "memory" { print "/sys/fs/cgroup/memory" $3 "/memory.kmem.tcp.limit_in_bytes" }' "/proc/$pid/cgroup")"
	[ -n "$file" ] && [ -f "$file" ] || skip "no cgroup v1 memory hierarchy with kmem.tcp here: the limit does not exist (cgroup v2), and is ignored as by runc"
	# libcontainer v1.5.2 dropped it: "Kernel memory settings are ignored".
	[ "$(cat "$file")" = 50593792 ]
}

@test "linux.resources.devices are in the cgroup v1 devices list in their listed order, then libcontainer's defaults" {
	local pid dir
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" '.linux.resources.devices = [{allow: false, access: "rwm"},
		{allow: true, type: "c", major: 10, minor: 229, access: "rwm"},
		{allow: true, type: "b", major: 8, minor: 20, access: "rw"},
		{allow: true, type: "b", major: 10, minor: 200, access: "r"}]'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid dev)"
	pid="$(pid_of "$(cid dev)")"
	dir="$(awk -F: '$2 == "devices" { print "/sys/fs/cgroup/devices" $3 }' "/proc/$pid/cgroup")"
	[ -n "$dir" ] && [ -f "$dir/devices.list" ] || skip "no cgroup v1 devices hierarchy here (cgroup v2 filters devices with eBPF, which has no list)"
	# libcontainer wrote them sorted ("b *:* m" first); then its defaults.
	run -0 head -3 "$dir/devices.list"
	[ "$output" = $'c 10:229 rwm\nb 8:20 rw\nb 10:200 r' ]
	# The same entries as libcontainer's (create checks it), and the
	# standard devices it allows by default still work.
	run -0 grep -c . "$dir/devices.list"
	[ "$output" -gt 3 ]
	set_args "$BUNDLE" sh -c 'echo x >/dev/null && echo null-ok'
	run -0 pb run --bundle "$BUNDLE" "$(cid dev2)"
	[ "$output" = null-ok ]
}

@test "a startContainer hook of a client bundle runs with the container's capabilities, not the shim's CAP_SYS_ADMIN" {
	make_bundle "$BUNDLE" sh -c 'cat /tmp/hookcaps; grep "^CapEff:" /proc/self/status'
	client_profile
	# The hook runs inside the container, from its filesystem, before the
	# program: with the capabilities runc gives it (the bundle's), never
	# with those the exec shim holds to load the filter.
	jq_config "$BUNDLE" '.root.readonly = false
		| .hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "grep ^CapEff: /proc/self/status > /tmp/hookcaps"]}]'
	mkdir -p "$BUNDLE/rootfs/tmp"
	run -0 pb run --bundle "$BUNDLE" "$(cid start-hook)"
	[ "${lines[0]}" = "${lines[1]}" ]
	[[ "${lines[0]}" == *"0000000020000420" ]]
}
