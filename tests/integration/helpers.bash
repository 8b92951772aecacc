# Shared helpers for the plugbox bats suites. Load with `load helpers` and call
# plugbox_setup / plugbox_teardown from setup / teardown.
#
# Every test gets its own --root under $BATS_TEST_TMPDIR and container IDs
# that start with "bats-<run>-<test>-", so suites never collide with each
# other, with a concurrent run, or with real containers. Every bundle's
# process carries PLUGBOX_BATS_MARK=<that prefix> in its environment; the
# teardown uses it to find container processes that outlived their container.

bats_require_minimum_version 1.5.0

PLUGBOX="${PLUGBOX:-$BATS_TEST_DIRNAME/../../bin/plugbox}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"

# Applets the suites run inside containers; make_bundle links each of them.
APPLETS=(sh cat echo id kill ls sleep true false grep wc)

plugbox_setup() {
	if [ ! -x "$PLUGBOX" ]; then
		echo "plugbox binary $PLUGBOX is missing: run 'make build' or set PLUGBOX" >&2
		return 1
	fi
	if [ ! -x "$BUSYBOX" ]; then
		echo "$BUSYBOX is missing: install Debian's busybox-static (make deps)" >&2
		return 1
	fi
	PLUGBOX="$(cd "$(dirname "$PLUGBOX")" && pwd)/$(basename "$PLUGBOX")"
	ROOT="$BATS_TEST_TMPDIR/root"
	# BATS_RUN_TMPDIR ends in mktemp's random suffix: unique per bats run.
	CID_PREFIX="bats-${BATS_RUN_TMPDIR##*-}-${BATS_SUITE_TEST_NUMBER}"
	BUNDLE="$BATS_TEST_TMPDIR/bundle"
}

# wait_pids ID N waits up to 5 s until `ps` lists N processes of container ID
# and prints their host PIDs; it fails, saying what it saw, otherwise.
wait_pids() {
	local id=$1 n=$2 pids=""
	for _ in $(seq 50); do
		pids="$(pb ps --format json "$id" | jq -r '.[]')"
		if [ "$(wc -w <<<"$pids")" -eq "$n" ]; then
			echo $pids
			return 0
		fi
		sleep 0.1
	done
	echo "expected $n processes in $id, ps lists: $pids" >&2
	return 1
}

# cid NAME prints this test's container ID for NAME.
cid() {
	echo "$CID_PREFIX-$1"
}

# pb runs plugbox with this test's --root.
pb() {
	"$PLUGBOX" --root "$ROOT" "$@"
}

# pb_bg runs a plugbox verb that leaves a container process behind (create,
# run --detach). That process inherits stdio, so it must not hold the pipe of
# bats' `run` (which would wait for it) nor bats' fd 3. Everything written on
# stdout and stderr, by plugbox and later by the container, goes to the file
# named by ctr_out for the ID; pb_bg prints what is there when plugbox exits.
#   pb_bg create ID [FLAGS...]     pb_bg run --detach ID [FLAGS...]
pb_bg() {
	local id="${*: -1}" rc=0
	local out
	out="$(ctr_out "$id")"
	"$PLUGBOX" --root "$ROOT" "$@" </dev/null >"$out" 2>&1 3>&- || rc=$?
	cat "$out"
	return "$rc"
}

# ctr_out ID names the file that holds the stdio of a container started by pb_bg.
ctr_out() {
	echo "$BATS_TEST_TMPDIR/$1.out"
}

# make_bundle DIR ARG... builds a busybox bundle in DIR with 'plugbox spec'
# and sets process.args to ARG... and process.terminal to false.
make_bundle() {
	local dir="$1"
	shift
	make_rootfs "$dir/rootfs"
	"$PLUGBOX" spec --bundle "$dir"
	set_args "$dir" "$@"
}

# make_rootfs DIR copies busybox into DIR/bin and links the applets in APPLETS.
make_rootfs() {
	local dir="$1" list applet
	mkdir -p "$dir/bin"
	cp "$BUSYBOX" "$dir/bin/busybox"
	list="$("$BUSYBOX" --list)"
	for applet in "${APPLETS[@]}"; do
		if ! grep -qx -- "$applet" <<<"$list"; then
			echo "$BUSYBOX has no applet $applet" >&2
			return 1
		fi
		ln -s busybox "$dir/bin/$applet"
	done
}

# set_args DIR ARG... rewrites DIR/config.json: process.args = ARG...,
# process.terminal = false, and the leak marker in process.env.
set_args() {
	local dir="$1" args="[" sep="" arg
	shift
	# Each argument becomes a JSON string on its own: jq would take an
	# argument such as "-c" for one of its options.
	for arg in "$@"; do
		args+="$sep$(printf '%s' "$arg" | jq -Rs .)"
		sep=","
	done
	args+="]"
	jq_config "$dir" --argjson args "$args" --arg mark "PLUGBOX_BATS_MARK=$CID_PREFIX" \
		'.process.terminal = false | .process.args = $args
		 | .process.env = ([.process.env[] | select(startswith("PLUGBOX_BATS_MARK=") | not)] + [$mark])'
}

# jq_config DIR JQ-ARGS... edits DIR/config.json in place with jq.
jq_config() {
	local dir="$1"
	shift
	jq "$@" <"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}

# status_of ID prints the container's status, or nothing if state fails.
status_of() {
	pb state "$1" 2>/dev/null | jq -r .status
}

# pid_of ID prints the container's pid from its state.
pid_of() {
	pb state "$1" | jq -r .pid
}

# wait_status ID STATUS waits up to 5 s for the container to reach STATUS.
wait_status() {
	local id="$1" want="$2" got i
	for i in $(seq 50); do
		got="$(status_of "$id")"
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	echo "container $id: status is '$got' after 5s, want '$want'" >&2
	return 1
}

# alive PID succeeds if PID exists and is not a zombie. A detached
# container's init is reparented to the host's init, which reaps it in its
# own time; a zombie has died, so it counts as gone.
alive() {
	local stat
	stat="$(cat /proc/"$1"/stat 2>/dev/null)" || return 1
	stat="${stat##*) }"
	[ "${stat%% *}" != Z ]
}

# wait_gone PID waits up to 5 s for PID to die.
wait_gone() {
	local i
	for i in $(seq 50); do
		alive "$1" || return 0
		sleep 0.1
	done
	echo "process $1 is still alive after 5s" >&2
	return 1
}

# wait_file_line FILE LINE waits up to 5 s for FILE to hold the exact LINE.
wait_file_line() {
	local i
	for i in $(seq 50); do
		grep -qxF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "'$2' did not appear in $1 within 5s; it holds:" >&2
	cat "$1" >&2
	return 1
}

# cgroups_of ID lists the cgroup directories named ID.
cgroups_of() {
	find /sys/fs/cgroup -name "$1" 2>/dev/null
}

# marked_pids PREFIX lists host processes whose environment carries the leak
# marker of PREFIX (container processes of that test).
marked_pids() {
	grep -lzxF -- "PLUGBOX_BATS_MARK=$1" /proc/[0-9]*/environ 2>/dev/null |
		sed -e 's|^/proc/||' -e 's|/environ$||'
}

# monitor_pids PREFIX lists plugbox's monitor processes (plugbox
# __plugbox-monitor ...) of containers whose ID starts with PREFIX.
monitor_pids() {
	local dir args
	for dir in /proc/[0-9]*; do
		args="$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)" || continue
		if [[ " $args " == *" __plugbox-monitor "* && " $args " == *" $1-"* ]]; then
			echo "${dir#/proc/}"
		fi
	done
}

# error_line asserts that $output is exactly one line "plugbox: ..." that
# contains every argument.
error_line() {
	local want
	if [ "${#lines[@]}" -ne 1 ] || [[ "$output" != "plugbox: "* ]]; then
		echo "want one line 'plugbox: ...', got:" >&2
		echo "$output" >&2
		return 1
	fi
	for want in "$@"; do
		if [[ "$output" != *"$want"* ]]; then
			echo "error does not mention '$want': $output" >&2
			return 1
		fi
	done
}

# root_entries lists what --root holds for containers: everything but the
# cache of compiled seccomp programs (@bpf-cache, never a container ID).
root_entries() {
	ls -A "$ROOT" | grep -vx '@bpf-cache' || true
}

# root_empty asserts that --root holds no container state (it may not exist).
root_empty() {
	local left
	[ -d "$ROOT" ] || return 0
	left="$(root_entries)"
	if [ -n "$left" ]; then
		echo "state left under $ROOT: $left" >&2
		return 1
	fi
}

# assert_no_leak checks that nothing of this test outlives it: state under
# --root, cgroups, container processes, mounts under the test directory.
assert_no_leak() {
	local bad=0 left
	root_empty || bad=1
	left="$(find /sys/fs/cgroup -name "$CID_PREFIX-*" 2>/dev/null)"
	if [ -n "$left" ]; then
		echo "cgroups left behind: $left" >&2
		bad=1
	fi
	left="$(marked_pids "$CID_PREFIX")"
	if [ -n "$left" ]; then
		echo "container processes left behind: $left" >&2
		bad=1
	fi
	left="$(monitor_pids "$CID_PREFIX")"
	if [ -n "$left" ]; then
		echo "monitor processes left behind: $left" >&2
		bad=1
	fi
	left="$(grep -F -- "$BATS_TEST_TMPDIR" /proc/self/mountinfo)"
	if [ -n "$left" ]; then
		echo "mounts left behind: $left" >&2
		bad=1
	fi
	return "$bad"
}

# plugbox_teardown force-deletes every container under --root (retrying for
# a few seconds, so that one failed delete does not leak into later tests;
# the delete tests assert the first attempt), then checks nothing leaked.
plugbox_teardown() {
	local id i
	if [ -d "$ROOT" ]; then
		for id in $(root_entries); do
			for i in $(seq 20); do
				"$PLUGBOX" --root "$ROOT" delete --force "$id" 2>/dev/null && break
				sleep 0.25
			done
		done
	fi
	assert_no_leak
}
