#!/usr/bin/env bats
# --preserve-fds N passes the caller's descriptors 3 .. 3+N-1, and nothing
# else, to the container process.

load helpers

setup() {
	plugbox_setup
	echo "secret on fd 5" >"$BATS_TEST_TMPDIR/five"
	echo "not passed on fd 6" >"$BATS_TEST_TMPDIR/six"
	# Reads fd 5, then reports which of the descriptors 3..7 the shell holds.
	make_bundle "$BUNDLE" sh -c '
		cat <&5
		for fd in 3 4 5 6 7; do
			if [ -e /proc/$$/fd/$fd ]; then echo "fd $fd open"; else echo "fd $fd closed"; fi
		done'
}

teardown() {
	plugbox_teardown
}

@test "run --preserve-fds 3 passes fds 3, 4 and 5 and not 6" {
	run -0 pb run --preserve-fds 3 --bundle "$BUNDLE" "$(cid three)" \
		3</dev/null 4</dev/null 5<"$BATS_TEST_TMPDIR/five" 6<"$BATS_TEST_TMPDIR/six"
	[ "$output" = "secret on fd 5
fd 3 open
fd 4 open
fd 5 open
fd 6 closed
fd 7 closed" ]
}

@test "run without --preserve-fds passes no descriptor beyond stdio" {
	run -0 pb run --bundle "$BUNDLE" "$(cid none)" \
		3</dev/null 4</dev/null 5<"$BATS_TEST_TMPDIR/five" 6<"$BATS_TEST_TMPDIR/six"
	[ "$output" = "sh: 5: Bad file descriptor
fd 3 closed
fd 4 closed
fd 5 closed
fd 6 closed
fd 7 closed" ]
}

@test "create --preserve-fds passes the descriptors to the process that start runs" {
	id="$(cid create)"
	out="$(ctr_out "$id")"
	# Not pb_bg: it closes fd 3. Here fd 3 is /dev/null, so the created
	# process holds neither bats' fd 3 nor the pipe of `run`.
	pb create --preserve-fds 3 --bundle "$BUNDLE" "$id" </dev/null >"$out" 2>&1 \
		3</dev/null 4</dev/null 5<"$BATS_TEST_TMPDIR/five" 6<"$BATS_TEST_TMPDIR/six"
	[ ! -s "$out" ]
	run -0 pb start "$id"
	wait_status "$id" stopped
	[ "$(cat "$out")" = "secret on fd 5
fd 3 open
fd 4 open
fd 5 open
fd 6 closed
fd 7 closed" ]
}

@test "--preserve-fds refuses descriptors the caller has not open" {
	# plugbox itself holds descriptors of its own (its state directory, files
	# of the Go runtime); they must never reach the container in place of
	# the caller's.
	run -1 pb run --preserve-fds 3 --bundle "$BUNDLE" "$(cid closed)" 3<&- 4<&- 5<&-
	error_line "--preserve-fds 3" "descriptor 3 is not open"
	root_empty
}

@test "--preserve-fds refuses a negative count" {
	run -1 pb run --preserve-fds -1 --bundle "$BUNDLE" "$(cid negative)"
	error_line "--preserve-fds -1"
	root_empty
}
