#!/usr/bin/env bats
# kill: signal names and numbers, the default signal, --all, and what kill
# refuses.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

# A process that reports the signals it traps on stdout and exits 0 on TERM.
# It waits on a background sleep so that a trapped signal interrupts `wait`.
trapper() {
	make_bundle "$BUNDLE" sh -c '
		for s in HUP INT USR1 USR2; do trap "echo got $s" $s; done
		trap "echo got TERM; exit 0" TERM
		echo ready
		while :; do sleep 1000 & wait; done'
}

@test "kill accepts names with and without SIG, in any case, and numbers" {
	trapper
	id="$(cid names)"
	out="$(ctr_out "$id")"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	wait_file_line "$out" ready

	run -0 pb kill "$id" HUP
	[ "$output" = "" ]
	wait_file_line "$out" "got HUP"
	run -0 pb kill "$id" SIGUSR1
	wait_file_line "$out" "got USR1"
	run -0 pb kill "$id" usr2
	wait_file_line "$out" "got USR2"
	run -0 pb kill "$id" sigint
	wait_file_line "$out" "got INT"
	: >"$out"
	run -0 pb kill "$id" 1
	wait_file_line "$out" "got HUP"
	run -0 pb kill "$id" 10
	wait_file_line "$out" "got USR1"
	run -0 pb kill "$id" 12
	wait_file_line "$out" "got USR2"
	[ "$(status_of "$id")" = running ]

	run -0 pb kill "$id" 9
	wait_status "$id" stopped
}

@test "kill without a signal sends TERM" {
	trapper
	id="$(cid default)"
	out="$(ctr_out "$id")"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	wait_file_line "$out" ready
	run -0 pb kill "$id"
	wait_file_line "$out" "got TERM"
	wait_status "$id" stopped
}

@test "kill reaches a created container that has not started" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid created)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"
	run -0 pb kill "$id" KILL
	wait_status "$id" stopped
	wait_gone "$pid"
}

@test "kill --all TERM stops every process of the container" {
	make_bundle "$BUNDLE" sh -c 'sleep 1000 & sleep 1000 & wait'
	id="$(cid all-term)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	pids="$(wait_pids "$id" 3)"

	run -0 pb kill --all "$id" TERM
	[ "$output" = "" ]
	# The sleeps die of TERM; the shell (PID 1, TERM not delivered to it)
	# then returns from wait and exits.
	for pid in $pids; do wait_gone "$pid"; done
	wait_status "$id" stopped
	run -0 pb ps --format json "$id"
	[ "$(jq -c . <<<"$output")" = "[]" ]
}

@test "kill --all KILL kills every process of the container" {
	make_bundle "$BUNDLE" sh -c 'trap "" TERM; sleep 1000 & sleep 1000 & wait'
	id="$(cid all-kill)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	pids="$(wait_pids "$id" 3)"

	run -0 pb kill --all "$id" KILL
	for pid in $pids; do wait_gone "$pid"; done
	wait_status "$id" stopped
	run -0 pb ps --format json "$id"
	[ "$(jq -c . <<<"$output")" = "[]" ]
}

@test "kill of a stopped container fails and leaves it stopped" {
	make_bundle "$BUNDLE" true
	id="$(cid stopped)"
	run -0 pb run --keep --bundle "$BUNDLE" "$id"
	run -1 pb kill "$id" KILL
	error_line "$id" "not running"
	[ "$(status_of "$id")" = stopped ]
}

@test "kill with an invalid signal fails and leaves the container running" {
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid badsig)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	pid="$(pid_of "$id")"
	for sig in FOO SIGFOO 0 65 -9 ''; do
		run -1 pb kill "$id" "$sig"
		error_line "invalid signal \"$sig\""
	done
	run -1 pb kill "$id" KILL extra
	error_line "too many arguments"
	[ "$(status_of "$id")" = running ]
	alive "$pid"
}
