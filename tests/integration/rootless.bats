#!/usr/bin/env bats
# Rootless: an unprivileged user runs containers from a 'spec --rootless'
# bundle. The container's root is that user on the host.

load helpers

ROOTLESS_USER="${PLUGBOX_ROOTLESS_USER:-plugbox-test}"

setup() {
	plugbox_setup
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to create and switch to the unprivileged user $ROOTLESS_USER"
	fi
	if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$ROOTLESS_USER"
	fi
	RUID="$(id -u "$ROOTLESS_USER")"
	RGID="$(id -g "$ROOTLESS_USER")"
	# $BATS_TEST_TMPDIR sits in a directory only root may enter, so the user
	# gets a directory of its own.
	RDIR="$(mktemp -d /tmp/plugbox-rootless.XXXXXX)"
	chmod 0755 "$RDIR"
	mkdir "$RDIR/run" "$RDIR/bundle"
	chmod 0700 "$RDIR/run"
	ROOT="$RDIR/run/plugbox"
	BUNDLE="$RDIR/bundle"
	make_rootfs "$BUNDLE/rootfs"
	chown -R "$ROOTLESS_USER:" "$RDIR"
}

teardown() {
	local id i
	if [ -n "${RDIR:-}" ]; then
		if [ -d "$ROOT" ]; then
			for id in $(root_entries); do
				for i in $(seq 20); do
					upb delete --force "$id" 2>/dev/null && break
					sleep 0.25
				done
			done
		fi
		assert_no_leak && rm -rf "$RDIR"
	fi
}

# upb runs plugbox as the unprivileged user with its own runtime directory.
upb() {
	runuser -u "$ROOTLESS_USER" -- env XDG_RUNTIME_DIR="$RDIR/run" "$PLUGBOX" --root "$ROOT" "$@"
}

# rootless_bundle ARG... writes a rootless config.json as the user.
rootless_bundle() {
	run -0 runuser -u "$ROOTLESS_USER" -- env XDG_RUNTIME_DIR="$RDIR/run" "$PLUGBOX" spec --rootless --bundle "$BUNDLE"
	set_args "$BUNDLE" "$@"
	chown "$ROOTLESS_USER:" "$BUNDLE/config.json"
}

@test "rootless: spec --rootless maps the user to root in the container" {
	rootless_bundle true
	[ "$(jq -c '.linux.uidMappings' "$BUNDLE/config.json")" = "[{\"containerID\":0,\"hostID\":$RUID,\"size\":1}]" ]
	[ "$(jq -c '.linux.gidMappings' "$BUNDLE/config.json")" = "[{\"containerID\":0,\"hostID\":$RGID,\"size\":1}]" ]
}

@test "rootless: run as an unprivileged user; id -u inside prints 0" {
	rootless_bundle sh -c 'id -u; id -g; cat /proc/self/uid_map; exit 4'
	run -4 upb run --bundle "$BUNDLE" "$(cid run)"
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "$(echo ${lines[2]})" = "0 $RUID 1" ]
	[ "${#lines[@]}" -eq 3 ]
	root_empty
}

@test "rootless: the container process runs as the unprivileged uid on the host" {
	rootless_bundle sleep 1000
	id="$(cid host-uid)"
	run -0 pb_user_bg run --detach --bundle "$BUNDLE" "$id"
	run -0 upb state "$id"
	[ "$(jq -r .status <<<"$output")" = running ]
	pid="$(jq -r .pid <<<"$output")"
	alive "$pid"
	# Real, effective, saved and filesystem uid and gid on the host.
	[ "$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)" = "$RUID $RUID $RUID $RUID" ]
	[ "$(awk '/^Gid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)" = "$RGID $RGID $RGID $RGID" ]
	# The state belongs to the user.
	[ "$(stat -c %u "$ROOT/$id")" = "$RUID" ]

	run -0 upb kill "$id" KILL
	wait_status_user "$id" stopped
	run -0 upb delete "$id"
	run -1 upb state "$id"
	error_line "does not exist"
	root_empty
}

@test "rootless: create, start, delete --force" {
	rootless_bundle sh -c 'echo started; exec sleep 1000'
	id="$(cid life)"
	run -0 pb_user_bg create --bundle "$BUNDLE" "$id"
	run -0 upb state "$id"
	[ "$(jq -r .status <<<"$output")" = created ]
	pid="$(jq -r .pid <<<"$output")"
	run -0 upb start "$id"
	wait_file_line "$(ctr_out "$id")" started
	wait_status_user "$id" running
	run -0 upb delete --force "$id"
	wait_gone "$pid"
	root_empty
}

@test "rootless: ps and kill --all with delegated cgroups" {
	if ! cgroups_delegated; then
		skip "no cgroup is delegated to $ROOTLESS_USER, so a rootless container has none; ps and kill --all read the container's cgroup"
	fi
	rootless_bundle sh -c 'sleep 1000 & sleep 1000 & wait'
	id="$(cid ps)"
	run -0 pb_user_bg run --detach --bundle "$BUNDLE" "$id"
	for i in $(seq 50); do
		run -0 upb ps --format json "$id"
		[ "$(jq length <<<"$output")" -eq 3 ] && break
		sleep 0.1
	done
	[ "$(jq length <<<"$output")" -eq 3 ]
	run -0 upb kill --all "$id" KILL
	wait_status_user "$id" stopped
}

@test "rootless: without delegated cgroups, ps fails with one line" {
	if cgroups_delegated; then
		skip "cgroups are delegated to $ROOTLESS_USER: the previous test covers ps"
	fi
	rootless_bundle sleep 1000
	id="$(cid ps-nocgroup)"
	run -0 pb_user_bg run --detach --bundle "$BUNDLE" "$id"
	run -1 upb ps "$id"
	error_line "ps $id"
	run -1 upb kill --all "$id" KILL
	error_line "kill --all $id"
	[ "$(upb state "$id" | jq -r .status)" = running ]
}

# cgroups_delegated succeeds if the user may create cgroups below its own
# (cgroup v2: its cgroup directory; v1: its pids hierarchy directory).
cgroups_delegated() {
	local path
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		path="$(runuser -u "$ROOTLESS_USER" -- cat /proc/self/cgroup | sed -n 's/^0:://p')"
		runuser -u "$ROOTLESS_USER" -- test -w "/sys/fs/cgroup$path"
	else
		path="$(runuser -u "$ROOTLESS_USER" -- cat /proc/self/cgroup | sed -n 's/^[0-9]*:pids://p')"
		[ -n "$path" ] && runuser -u "$ROOTLESS_USER" -- test -w "/sys/fs/cgroup/pids$path"
	fi
}

# pb_user_bg is pb_bg as the user; the container's stdio goes to ctr_out.
pb_user_bg() {
	local id="${*: -1}" out rc=0
	out="$(ctr_out "$id")"
	: >"$out"
	chown "$ROOTLESS_USER:" "$out"
	upb "$@" </dev/null >>"$out" 2>&1 3>&- || rc=$?
	cat "$out"
	return "$rc"
}

# wait_status_user is wait_status with the user's plugbox.
wait_status_user() {
	local i got
	for i in $(seq 50); do
		got="$(upb state "$1" 2>/dev/null | jq -r .status)"
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	echo "container $1: status is '$got' after 5s, want '$2'" >&2
	return 1
}

@test "rootless: an authored plugin runs with seccomp and Landlock; cgroup limits it cannot get fail the start with the fix" {
	run -0 upb bundle init --exec /usr/bin/jq "$RDIR/authored"
	jq '.process.args = ["/bin/jq", "-n", "[1, 2] | add"]' "$RDIR/authored/config.json" > "$RDIR/c"
	chown "$ROOTLESS_USER:" "$RDIR/c"
	runuser -u "$ROOTLESS_USER" -- cp "$RDIR/c" "$RDIR/authored/config.json"
	if ! cgroups_delegated; then
		# Limits asked for are never dropped silently.
		run -1 upb run --bundle "$RDIR/authored" "$(cid limited)"
		[[ "$output" == *"no cgroup delegated"*"remove linux.resources"* ]]
		[ -z "$(root_entries)" ]
		jq 'del(.linux.resources)' "$RDIR/authored/config.json" > "$RDIR/c"
		runuser -u "$ROOTLESS_USER" -- cp "$RDIR/c" "$RDIR/authored/config.json"
	fi
	run -0 upb run --keep --bundle "$RDIR/authored" "$(cid authored)"
	[ "${lines[-1]}" = 3 ]
	run -0 upb state "$(cid authored)"
	[ "$(jq -r '.annotations["org.plugbox.enforced.seccomp"]' <<<"$output")" = shim ]
	[[ "$(jq -r '.annotations["org.plugbox.enforced.landlock"]' <<<"$output")" == "abi "* ]]
	run -0 upb delete "$(cid authored)"
}
