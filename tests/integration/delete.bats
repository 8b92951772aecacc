#!/usr/bin/env bats
# delete (with and without --force), start in the wrong state, and duplicate
# IDs: refusals must leave the container exactly as it was.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

@test "delete of a running container fails, mentions --force, and leaves it running" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid running)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"
	run -1 pb delete "$id"
	error_line "$id" "--force"
	[ "$(status_of "$id")" = running ]
	[ "$(pid_of "$id")" = "$pid" ]
	alive "$pid"
	[ -n "$(cgroups_of "$id")" ]
}

@test "delete --force removes a running container, its cgroups and its processes" {
	make_bundle "$BUNDLE" sh -c 'sleep 1000 & sleep 1000 & wait'
	id="$(cid force)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	pids="$(wait_pids "$id" 3)"
	# libcontainer names the container's cgroup after its ID, in every
	# hierarchy (cgroup v1 here: pids/<id>, memory/<parent>/<id>, ...).
	[ -n "$(cgroups_of "$id")" ]

	run -0 pb delete --force "$id"
	[ "$output" = "" ]
	for pid in $pids; do
		run -1 alive "$pid"
	done
	[ -z "$(cgroups_of "$id")" ]
	run -1 pb state "$id"
	error_line "does not exist"
	root_empty
}

@test "delete --force removes a created container" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid force-created)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"
	run -0 pb delete --force "$id"
	run -1 alive "$pid"
	[ -z "$(cgroups_of "$id")" ]
	root_empty
}

@test "delete of a stopped container removes its cgroups" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid stopped)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	run -0 pb kill "$id" KILL
	wait_status "$id" stopped
	run -0 pb delete "$id"
	[ -z "$(cgroups_of "$id")" ]
	root_empty
}

@test "delete of a created container without --force deletes it" {
	# runc deletes a created container without --force: it is not running.
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid created)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"
	run -0 pb delete "$id"
	run -1 alive "$pid"
	root_empty
}

@test "delete --force of an unknown container succeeds, as runc's does" {
	run -0 pb delete --force "$(cid nothing)"
	[ "$output" = "" ]
}

@test "start of a running container fails and has no effect" {
	make_bundle "$BUNDLE" sh -c 'echo started; exec sleep 1000'
	id="$(cid start-running)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	run -0 pb start "$id"
	wait_file_line "$(ctr_out "$id")" started
	pid="$(pid_of "$id")"
	run -1 pb start "$id"
	error_line "$id" "running"
	[ "$(status_of "$id")" = running ]
	[ "$(pid_of "$id")" = "$pid" ]
	[ "$(grep -c started "$(ctr_out "$id")")" -eq 1 ]
}

@test "start of a stopped container fails and has no effect" {
	make_bundle "$BUNDLE" sh -c 'echo ran'
	id="$(cid start-stopped)"
	run -0 pb run --keep --bundle "$BUNDLE" "$id"
	[ "$output" = ran ]
	run -1 pb start "$id"
	error_line "$id" "stopped"
	[ "$(status_of "$id")" = stopped ]
}

@test "create with an ID in use fails and leaves the first container intact" {
	make_bundle "$BUNDLE" sh -c 'echo first; exec sleep 1000'
	other="$BATS_TEST_TMPDIR/other"
	make_bundle "$other" sh -c 'echo second; exec sleep 1000'
	id="$(cid dup)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"

	run -1 pb create --bundle "$other" "$id" 3>&-
	error_line "$id" "already exists"
	run -1 pb run --bundle "$other" "$id" 3>&-
	error_line "$id" "already exists"

	run -0 pb state "$id"
	[ "$(jq -r .status <<<"$output")" = created ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
	alive "$pid"
	run -0 pb start "$id"
	wait_file_line "$(ctr_out "$id")" first
	wait_status "$id" running
}
