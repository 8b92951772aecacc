#!/usr/bin/env bats
# The start-up waterfall: PLUGBOX_TRACE=FILE and --debug record when each
# stage of a start ended, in every process of the start (the CLI,
# libcontainer's init, the exec shim, the monitor), on one clock.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+, which needs root"
	AUTHORED=$(mktemp -d /tmp/plugbox-waterfall.XXXXXX)
	chmod 755 "$AUTHORED"
	echo '{"name": "w", "command": ["/bin/busybox", "true"]}' > "$AUTHORED/plugin.json"
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$AUTHORED/plugin.json" "$AUTHORED/b"
}

teardown() {
	plugbox_teardown
	rm -rf "$AUTHORED"
}

# stage_t FILE STAGE prints the time of the first event whose stage starts
# with STAGE, failing when there is none.
stage_t() {
	jq -se --arg s "$2" 'map(select(.stage | startswith($s))) | first | .t' "$1"
}

@test "PLUGBOX_TRACE records every process's stages of an authored run, in causal order" {
	trace="$BATS_TEST_TMPDIR/trace.jsonl"
	PLUGBOX_TRACE="$trace" run -0 --separate-stderr pb run --bundle "$AUTHORED/b" "$(cid t)"
	# Nothing on stderr but the plugin's own violations: the debug
	# messages the trace needs are not printed.
	! grep -q 'debug' <<<"$stderr"
	jq -se 'all(.t > 0 and .pid != null and (.stage | length) > 0)' "$trace"
	created=$(stage_t "$trace" "create: process, stdio and shim descriptors ready")
	nsexec=$(stage_t "$trace" "nsexec")
	init=$(stage_t "$trace" "init: Go runtime and package init done (plugbox init)")
	waiting=$(stage_t "$trace" "create: init waits on the exec fifo")
	released=$(stage_t "$trace" "start: container locked")
	shim=$(stage_t "$trace" "shim: started, configuration read")
	filter=$(stage_t "$trace" "shim: loading the filter, then execve")
	listener=$(stage_t "$trace" "monitor: listener taken, shim released")
	exited=$(stage_t "$trace" "wait: plugin exited")
	deleted=$(stage_t "$trace" "delete: libcontainer Destroy")
	# Each stage can only follow the one before it, whichever process
	# timed it: the clocks line up.
	[ "$created" -lt "$nsexec" ]
	# nsexec's messages carry no time: this process stamps them on arrival,
	# which under load can follow init's own stamp; both precede the end
	# of libcontainer's Start.
	[ "$nsexec" -lt "$waiting" ]
	[ "$created" -lt "$init" ]
	[ "$init" -lt "$waiting" ]
	[ "$released" -lt "$shim" ]
	[ "$shim" -le "$filter" ]
	[ "$filter" -lt "$listener" ]
	[ "$listener" -lt "$exited" ]
	[ "$exited" -lt "$deleted" ]
}

@test "--debug prints the waterfall; without it or PLUGBOX_TRACE nothing is traced" {
	run -0 --separate-stderr pb --debug run --bundle "$AUTHORED/b" "$(cid d)"
	grep -q '^plugbox: debug: start-up waterfall' <<<"$stderr"
	grep -Eq '^plugbox: debug: +[0-9.]+ +[0-9.]+ +[0-9]+  shim: loading the filter, then execve$' <<<"$stderr"
	grep -Eq '^plugbox: debug: +[0-9.]+ +[0-9.]+ +[0-9]+  cli: exit$' <<<"$stderr"
	run -0 --separate-stderr pb run --bundle "$AUTHORED/b" "$(cid q)"
	! grep -q 'debug\|waterfall' <<<"$stderr"
}

@test "a trace spans create and start: each process appends its own stages to the file" {
	make_bundle "$BUNDLE" true
	trace="$BATS_TEST_TMPDIR/trace.jsonl"
	PLUGBOX_TRACE="$trace" run -0 pb_bg create --bundle "$BUNDLE" "$(cid c)"
	stage_t "$trace" "create: init waits on the exec fifo"
	PLUGBOX_TRACE="$trace" run -0 pb start "$(cid c)"
	stage_t "$trace" "start: exec fifo read (init released)"
	[ "$(jq -s 'map(select(.stage == "cli: main (Go runtime and package init done)")) | length' "$trace")" = 2 ]
	wait_status "$(cid c)" stopped
	run -0 pb delete "$(cid c)"
}
