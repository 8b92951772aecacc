#!/usr/bin/env bats
# What a program driving plugbox relies on (package plugbox does): run
# --status-file tells the plugin's exit status from plugbox's own failure,
# --timeout replaces the bundle's wall-clock limit, and --hold-fd refuses
# what it cannot hold. The hold protocol itself is tested through the
# library (tests/library), which holds the socket.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

@test "run --status-file records a plugin's exit status 1 as the plugin's" {
	make_bundle "$BUNDLE" sh -c 'echo out; exit 1'
	run -1 pb run --status-file "$BATS_TEST_TMPDIR/st" --bundle "$BUNDLE" "$(cid one)"
	[ "$output" = out ]
	jq -e '.exitCode == 1 and .reason == "exited" and (has("error") | not)' "$BATS_TEST_TMPDIR/st"
	root_empty
}

@test "run --status-file records plugbox's failure as an error, not an exit status, and --log keeps it off stderr" {
	make_bundle "$BUNDLE" true
	run -1 pb --log "$BATS_TEST_TMPDIR/log" --log-format json run --status-file "$BATS_TEST_TMPDIR/st" --preserve-fds 2 --bundle "$BUNDLE" "$(cid fail)" 3>&- 4>&-
	# stderr is the plugin's too: plugbox's error is in the status file and the log.
	[ -z "$output" ]
	jq -e '(has("exitCode") | not) and .reason == "error" and (.error | contains("descriptor 3 is not open"))' "$BATS_TEST_TMPDIR/st"
	grep -q '"level":"error".*descriptor 3 is not open' "$BATS_TEST_TMPDIR/log"
	root_empty
}

@test "run --timeout replaces the bundle's limit and the status file names it" {
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" '.annotations["org.plugbox.timeout"] = "60s"'
	SECONDS=0
	run -137 pb run --timeout 1s --status-file "$BATS_TEST_TMPDIR/st" --bundle "$BUNDLE" "$(cid t)"
	[ "$SECONDS" -lt 20 ]
	jq -e '.exitCode == 137 and .signal == "SIGKILL" and .reason == "timeout" and .detail == "wall-clock limit 1s exceeded"' "$BATS_TEST_TMPDIR/st"
	run -1 pb run --timeout 0s --bundle "$BUNDLE" "$(cid zero)"
	error_line "--timeout 0s" "positive duration"
	root_empty
}

@test "run --hold-fd refuses a closed descriptor, a pipe, one among --preserve-fds, and --detach" {
	make_bundle "$BUNDLE" true
	run -1 pb run --hold-fd 7 --bundle "$BUNDLE" "$(cid closed)"
	error_line "--hold-fd 7" "not open"
	run -1 pb run --hold-fd 7 --bundle "$BUNDLE" "$(cid pipe)" 7< <(true)
	error_line "--hold-fd 7" "not a socket"
	run -1 pb run --hold-fd 3 --preserve-fds 1 --bundle "$BUNDLE" "$(cid overlap)" 3</dev/null
	error_line "--hold-fd 3" "must be 4 or more"
	run -1 pb run --detach --hold-fd 7 --bundle "$BUNDLE" "$(cid detach)"
	error_line "--hold-fd" "drop --detach"
	root_empty
}
