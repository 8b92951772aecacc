#!/usr/bin/env bats
# Which limit ended or constrained a plugin is said in one line by run and
# recorded in state: the memory limit (the OOM killer), the pids limit (a
# refused fork) and the wall-clock timeout.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+ and need cgroups, which needs root"
}

teardown() {
	plugbox_teardown
}

# plugin NAME LIMITS SCRIPT authors $BATS_TEST_TMPDIR/NAME running SCRIPT
# with busybox sh under the JSON limits object LIMITS.
plugin() {
	local name="$1" limits="$2" script="$3"
	jq -n --arg name "$name" --arg script "$script" --argjson limits "$limits" \
		'{name: $name, command: ["/bin/busybox", "sh", "-c", $script],
		  syscalls: ["base", "fs-read", "process"], limits: $limits}' >"$BATS_TEST_TMPDIR/$name.json"
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$BATS_TEST_TMPDIR/$name.json" "$BATS_TEST_TMPDIR/$name"
}

# The hog keeps 100 MB in the shell's own memory.
HOG='echo started; x=$(/bin/busybox head -c 100000000 /dev/zero | /bin/busybox tr "\0" a); echo survived'

@test "memory: a plugin the OOM killer ends at its memory limit is said to be killed by it, in run and in state" {
	plugin hog '{"memory": "32M", "tmp": "1M"}' "$HOG"
	id="$(cid hog)"
	run -137 --separate-stderr pb run --keep --bundle "$BATS_TEST_TMPDIR/hog" "$id"
	[ "$output" = started ]
	[[ "$stderr" == *"plugbox: $id: killed by the memory limit (32M)"* ]]
	run -0 pb state "$id"
	[ "$(jq -r '.annotations["org.plugbox.ended"]' <<<"$output")" = "memory: killed by the memory limit (32M)" ]
	run -0 pb delete "$id"
}

@test "memory: a detached plugin killed at its memory limit has the reason in state once stopped" {
	plugin hog '{"memory": "32M", "tmp": "1M"}' "$HOG"
	id="$(cid hog-detached)"
	run -0 pb_bg run --detach --bundle "$BATS_TEST_TMPDIR/hog" "$id"
	wait_status "$id" stopped
	run -0 pb state "$id"
	[[ "$(jq -r '.annotations["org.plugbox.ended"]' <<<"$output")" == "memory: the memory limit (32M) killed 1 process of the plugin"* ]]
}

@test "pids: a fork the pids limit refuses is named in run and in state" {
	plugin bomb '{"pids": 8}' 'for i in $(/bin/busybox seq 40); do /bin/busybox sleep 2 & done; wait; echo done'
	id="$(cid bomb)"
	run --separate-stderr pb run --keep --bundle "$BATS_TEST_TMPDIR/bomb" "$id"
	[[ "$stderr" == *"can't fork"* ]]
	[[ "$stderr" == *"plugbox: $id: the pids limit (8) refused "*" new process"* ]]
	run -0 pb state "$id"
	[[ "$(jq -r '.annotations["org.plugbox.constrained"]' <<<"$output")" == "pids: the pids limit (8) refused "* ]]
	[ "$(jq -r '.annotations["org.plugbox.ended"]' <<<"$output")" = null ]
	run -0 pb delete --force "$id"
}

@test "timeout: a plugin past its wall-clock limit is said to be killed by it, in run and in state" {
	plugin slow '{"timeout": "1s"}' 'echo sleeping; /bin/busybox sleep 30'
	id="$(cid slow)"
	SECONDS=0
	run -137 --separate-stderr pb run --keep --bundle "$BATS_TEST_TMPDIR/slow" "$id"
	[ "$SECONDS" -lt 10 ]
	[ "$output" = sleeping ]
	[[ "$stderr" == *"plugbox: $id: wall-clock limit 1s exceeded: the plugin was killed"* ]]
	run -0 pb state "$id"
	[ "$(jq -r '.annotations["org.plugbox.ended"]' <<<"$output")" = "timeout: wall-clock limit 1s exceeded" ]
	run -0 pb delete "$id"
}

@test "a plugin within its limits gets no such line, and a config.json cannot forge one" {
	plugin calm '{"memory": "64M", "pids": 16}' 'echo fine'
	id="$(cid calm)"
	run -0 --separate-stderr pb run --keep --bundle "$BATS_TEST_TMPDIR/calm" "$id"
	[ "$output" = fine ]
	[[ "$stderr" != *"limit"* ]]
	run -0 pb state "$id"
	[ "$(jq -r '.annotations["org.plugbox.ended"]' <<<"$output")" = null ]
	[ "$(jq -r '.annotations["org.plugbox.constrained"]' <<<"$output")" = null ]
	run -0 pb delete "$id"
	for key in ended constrained; do
		cp -a "$BATS_TEST_TMPDIR/calm" "$BATS_TEST_TMPDIR/forged-$key"
		jq_config "$BATS_TEST_TMPDIR/forged-$key" --arg k "org.plugbox.$key" '.annotations[$k] = "memory: forged"'
		run -1 pb run --bundle "$BATS_TEST_TMPDIR/forged-$key" "$(cid forged-$key)"
		error_line "org.plugbox.$key" "written only by 'plugbox state'"
	done
}
