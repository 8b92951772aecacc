#!/usr/bin/env bats
# The container lifecycle through the runc-compatible verbs: run (foreground,
# --keep, --detach), create/start/state/kill/delete, --pid-file, ps.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

@test "run prints the process output and exits with its status" {
	make_bundle "$BUNDLE" sh -c 'echo hello from the plugin; echo to stderr >&2; exit 3'
	id="$(cid run3)"
	run -3 pb run --bundle "$BUNDLE" "$id"
	[ "${lines[0]}" = "hello from the plugin" ]
	[ "${lines[1]}" = "to stderr" ]
	[ "${#lines[@]}" -eq 2 ]
	# Without --keep the stopped container is gone.
	run -1 pb state "$id"
	error_line "$id" "does not exist"
	root_empty
}

@test "run of a process that succeeds exits 0" {
	make_bundle "$BUNDLE" echo ok
	run -0 pb run --bundle "$BUNDLE" "$(cid ok)"
	[ "$output" = "ok" ]
}

@test "run passes stdin to the process" {
	make_bundle "$BUNDLE" cat
	run -0 pb run --bundle "$BUNDLE" "$(cid stdin)" <<<"fed through stdin"
	[ "$output" = "fed through stdin" ]
}

@test "run exits 128+9 when the process kills itself with SIGKILL" {
	# As PID 1 of its own PID namespace the process could not kill itself:
	# the kernel drops signals a namespace's init sends itself (it would print
	# "survived" and exit 5). So this bundle shares the host PID namespace.
	make_bundle "$BUNDLE" sh -c 'kill -9 $$; echo survived; exit 5'
	jq_config "$BUNDLE" '.linux.namespaces |= map(select(.type != "pid"))'
	run -137 pb run --bundle "$BUNDLE" "$(cid kill9)"
	[ "$output" = "" ]
}

@test "run: PID 1 of the container cannot kill itself, and exits with its own status" {
	make_bundle "$BUNDLE" sh -c 'kill -9 $$; echo survived; exit 5'
	run -5 pb run --bundle "$BUNDLE" "$(cid init-kill9)"
	[ "$output" = "survived" ]
}

@test "run exits 137 when the container is killed with KILL from outside" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid outside)"
	(
		wait_status "$id" running
		pb kill "$id" KILL
	) 3>&- &
	# timeout only guards against a hang if the kill never lands.
	run -137 timeout -k 5 30 "$PLUGBOX" --root "$ROOT" run --bundle "$BUNDLE" "$id"
	wait $!
	root_empty
}

@test "run --keep leaves a stopped container that state shows and delete removes" {
	make_bundle "$BUNDLE" sh -c 'echo kept; exit 7'
	id="$(cid keep)"
	run -7 pb run --keep --bundle "$BUNDLE" "$id"
	[ "$output" = "kept" ]
	run -0 pb state "$id"
	[ "$(jq -r .status <<<"$output")" = stopped ]
	[ "$(jq -r .id <<<"$output")" = "$id" ]
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
	run -0 pb list --quiet
	[ "$output" = "$id" ]
	run -0 pb delete "$id"
	[ "$output" = "" ]
	run -1 pb state "$id"
	error_line "does not exist"
	root_empty
}

@test "run --detach: running, then kill, stopped, delete" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid detach)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	[ "$output" = "" ]
	run -0 pb state "$id"
	[ "$(jq -r .status <<<"$output")" = running ]
	pid="$(jq -r .pid <<<"$output")"
	alive "$pid"
	run -0 pb kill "$id" KILL
	[ "$output" = "" ]
	wait_status "$id" stopped
	wait_gone "$pid"
	run -0 pb delete "$id"
	run -1 pb state "$id"
	error_line "does not exist"
}

@test "create, state, start, state, kill, state, delete, state" {
	make_bundle "$BUNDLE" sh -c 'echo started; exec sleep 1000'
	id="$(cid life)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	[ "$output" = "" ]

	run -0 pb state "$id"
	state="$output"
	[ "$(jq -r .status <<<"$state")" = created ]
	[ "$(jq -r .id <<<"$state")" = "$id" ]
	[ "$(jq -r .bundle <<<"$state")" = "$BUNDLE" ]
	[[ "$(jq -r .ociVersion <<<"$state")" =~ ^1\.[0-9]+\.[0-9]+ ]]
	pid="$(jq -r .pid <<<"$state")"
	[ "$pid" -gt 0 ]
	alive "$pid"
	# The user process has not run yet.
	[ ! -s "$(ctr_out "$id")" ]

	run -0 pb start "$id"
	[ "$output" = "" ]
	wait_file_line "$(ctr_out "$id")" started
	run -0 pb state "$id"
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]

	run -0 pb kill "$id" KILL
	wait_status "$id" stopped
	wait_gone "$pid"
	run -0 pb state "$id"
	[ "$(jq -r .status <<<"$output")" = stopped ]

	run -0 pb delete "$id"
	[ "$output" = "" ]
	run -1 pb state "$id"
	error_line "container \"$id\"" "does not exist"
	root_empty
}

@test "create with a relative --bundle records the absolute bundle path" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid relative)"
	cd "$BATS_TEST_TMPDIR"
	run -0 pb_bg create --bundle bundle "$id"
	run -0 pb state "$id"
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
}

@test "create without --bundle uses the working directory" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid cwd)"
	cd "$BUNDLE"
	run -0 pb_bg create "$id"
	run -0 pb state "$id"
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
}

@test "--pid-file holds the pid of state, a live process that ps lists" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid pidfile)"
	run -0 pb_bg create --pid-file "$BATS_TEST_TMPDIR/pid" --bundle "$BUNDLE" "$id"
	pid="$(cat "$BATS_TEST_TMPDIR/pid")"
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$pid" = "$(pid_of "$id")" ]
	alive "$pid"

	run -0 pb start "$id"
	wait_status "$id" running
	[ "$pid" = "$(pid_of "$id")" ]
	# runc's table: the host's ps -ef, only the container's lines.
	run -0 pb ps "$id"
	[[ "${lines[0]}" == "UID "*" PID "*" PPID "* ]]
	[ "$(awk '{print $2}' <<<"${lines[1]}")" = "$pid" ]
	[ "${#lines[@]}" -eq 2 ]
	run -0 pb ps "$id" -o pid,comm
	[ "$(awk '{print $1, $2}' <<<"${lines[1]}")" = "$pid sleep" ]
	run -0 pb ps --format json "$id"
	[ "$(jq -c . <<<"$output")" = "[$pid]" ]
}

@test "run --detach --pid-file writes the pid of the running process" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid detach-pidfile)"
	cd "$BATS_TEST_TMPDIR"
	# A relative --pid-file is relative to the caller's working directory.
	run -0 pb_bg run --detach --pid-file pidfile --bundle "$BUNDLE" "$id"
	pid="$(cat "$BATS_TEST_TMPDIR/pidfile")"
	[ "$pid" = "$(pid_of "$id")" ]
	alive "$pid"
	[ "$(cat /proc/"$pid"/comm)" = sleep ]
}

@test "ps lists every process of the container" {
	make_bundle "$BUNDLE" sh -c 'sleep 1000 & sleep 1000 & wait'
	id="$(cid ps)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	init="$(pid_of "$id")"
	wait_pids "$id" 3 >/dev/null
	run -0 pb ps --format json "$id"
	[ "$(jq length <<<"$output")" -eq 3 ]
	[ "$(jq "index($init)" <<<"$output")" != null ]
	for pid in $(jq '.[]' <<<"$output"); do
		# Every listed pid is the init or one of its children.
		[ "$pid" = "$init" ] || [ "$(awk '{print $4}' /proc/"$pid"/stat)" = "$init" ]
	done
	run -0 pb ps "$id"
	[[ "${lines[0]}" == *" PID "* ]]
	[ "${#lines[@]}" -eq 4 ]
}

@test "ps of a stopped container lists nothing" {
	make_bundle "$BUNDLE" true
	id="$(cid ps-stopped)"
	run -0 pb run --keep --bundle "$BUNDLE" "$id"
	run -0 pb ps --format json "$id"
	[ "$(jq -c . <<<"$output")" = "[]" ]
}

@test "the process runs in new namespaces with the bundle's rootfs" {
	make_bundle "$BUNDLE" sh -c 'echo $$; ls /'
	run -0 pb run --bundle "$BUNDLE" "$(cid ns)"
	# PID 1 of its own PID namespace; / is the bundle's rootfs.
	[ "${lines[0]}" = 1 ]
	[[ " ${lines[*]:1} " == *" bin "* ]]
	[[ " ${lines[*]:1} " != *" work "* ]]
	[[ " ${lines[*]:1} " != *" usr "* ]]
}
