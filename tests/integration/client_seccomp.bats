#!/usr/bin/env bats
# A client's bundle (a runc spec: noNewPrivileges, /proc mounted) with a
# seccomp profile: the exec shim loads the profile, compiled once on the
# host, for the container's process and for every process exec'd into it,
# with or without noNewPrivileges; libcontainer keeps the job for a profile
# that notifies an agent.

load helpers

setup() {
	plugbox_setup
	make_bundle "$BUNDLE" sh -c 'mkdir /dev/shm/made && echo made; sleep 1000'
	# Everything allowed but mkdir/mkdirat, which are denied with EPERM.
	PROFILE='{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
	  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
}

teardown() {
	plugbox_teardown
}

with_profile() {
	jq_config "$BUNDLE" --argjson p "$PROFILE" '.linux.seccomp = $p'
}

enforced() {
	pb state "$1" | jq -r '.annotations["org.plugbox.enforced.seccomp"]'
}

@test "the shim loads a client's profile: the container's process and an exec'd one are filtered" {
	# Control: without the profile the directory is made, so the denial
	# below is the filter's doing.
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$(cid plain)"
	wait_file_line "$(ctr_out "$(cid plain)")" made
	run -0 pb delete --force "$(cid plain)"

	with_profile
	id=$(cid sc)
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	wait_file_line "$(ctr_out "$id")" "mkdir: can't create directory '/dev/shm/made': Operation not permitted"
	[ "$(enforced "$id")" = shim ]
	# An exec'd process gets the same filter; it keeps the capabilities
	# it asks for (a client's container, not a plugin sandbox).
	run -1 pb exec "$id" sh -c 'mkdir /dev/shm/exec'
	[[ "$output" == *"Operation not permitted"* ]]
	run -0 pb exec --cap CAP_SYS_ADMIN "$id" sh -c 'grep ^CapEff /proc/self/status'
	[ "$output" != "CapEff:	0000000000000000" ]
	run -0 pb exec "$id" sh -c 'grep ^Seccomp: /proc/self/status'
	[ "$output" = "Seccomp:	2" ]
	run -0 pb delete --force "$id"
}

@test "without noNewPrivileges and for an executable under a mount the shim loads the profile too; libcontainer does for a notifying profile" {
	with_profile
	jq_config "$BUNDLE" '.process.noNewPrivileges = false'
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$(cid nnp)"
	wait_file_line "$(ctr_out "$(cid nnp)")" "mkdir: can't create directory '/dev/shm/made': Operation not permitted"
	[ "$(enforced "$(cid nnp)")" = shim ]
	# the CAP_SYS_ADMIN the shim loaded the filter with is gone again
	run -0 pb exec "$(cid nnp)" sh -c 'grep ^NoNewPrivs: /proc/1/status; grep ^CapEff: /proc/1/status'
	[[ "$output" == *"NoNewPrivs:	0"* ]]
	[[ "$output" != *"CapEff:	000001ffffffffff"* ]]
	run -0 pb delete --force "$(cid nnp)"

	jq_config "$BUNDLE" '.process.noNewPrivileges = true | .linux.seccomp.listenerPath = "/nonexistent/agent.sock"
		| .linux.seccomp.syscalls[0].action = "SCMP_ACT_NOTIFY"'
	run -1 pb run --bundle "$BUNDLE" "$(cid notify)"
	# libcontainer's own error: it, not the shim, handles the agent.
	[[ "$output" == *"agent.sock"* ]]

	# process.args[0] under a bind mount is only visible at start, where
	# the shim looks it up.
	BUNDLE="$BATS_TEST_TMPDIR/mnt"
	make_bundle "$BUNDLE" /opt/tools/true
	with_profile
	mkdir -p "$BATS_TEST_TMPDIR/tools"
	cp "$BUSYBOX" "$BATS_TEST_TMPDIR/tools/busybox"
	ln -s busybox "$BATS_TEST_TMPDIR/tools/true"
	jq_config "$BUNDLE" --arg src "$BATS_TEST_TMPDIR/tools" \
		'.mounts += [{"destination": "/opt/tools", "type": "bind", "source": $src, "options": ["rbind", "ro"]}]'
	run -0 pb run --keep --bundle "$BUNDLE" "$(cid mnt)"
	[ "$(enforced "$(cid mnt)")" = shim ]
	run -0 pb delete "$(cid mnt)"
}

@test "a missing executable is still a create-time error, as in runc" {
	set_args "$BUNDLE" /bin/no-such-plugin
	with_profile
	run -1 pb create --bundle "$BUNDLE" "$(cid missing)"
	[[ "$output" == *"no-such-plugin"* ]]
	[ -z "$(pb list -q)" ]
}
