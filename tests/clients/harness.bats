#!/usr/bin/env bats
# The client suites' own machinery must be able to fail: the leak check sees
# what a client leaves behind, and the OCI runner's TAP reading counts a
# hollow in-container run, an error outside any assertion and a missing
# plan as failures. Uses Debian's runc; needs root.

load lib

setup() {
	RUNTIME=/usr/sbin/runc
	clients_init harness
	# shellcheck source=oci/run.sh
	. "$CLIENTS_DIR/oci/run.sh"
}

teardown() {
	clean_run
}

@test "harness: leaks() reports a container's runtime state, process, mount and cgroup, and clean_run removes them" {
	build_rootfs "$W/bundle/rootfs"
	(cd "$W/bundle" && runc spec)
	jq --arg mark "CLIENTS_MARK=$RUNID" --arg cg "/$RUNID/leak" \
		'.process.args = ["sleep", "1000"] | .process.terminal = false | .process.env += [$mark] | .linux.cgroupsPath = $cg' \
		"$W/bundle/config.json" >"$W/config.json" && mv "$W/config.json" "$W/bundle/config.json"
	"$RT" --root "$W/rtroot" create --bundle "$W/bundle" "$RUNID-leak" </dev/null >/dev/null 2>&1 3>&-
	"$RT" --root "$W/rtroot" start "$RUNID-leak"
	mkdir "$W/mnt"
	mount -t tmpfs tmpfs "$W/mnt"
	run -0 leaks
	echo "$output"
	[[ "$output" == *"runtime state: $RUNID-leak (root $W/rtroot)"* ]]
	[[ "$output" == *"process "*"sleep 1000"* ]]
	[[ "$output" == *"mount: $W/mnt"* ]]
	[[ "$output" == *"cgroup with processes: /sys/fs/cgroup/pids/$RUNID/leak"* ]]
	pid="$("$RT_REAL" --root "$W/rtroot" state "$RUNID-leak" | jq .pid)"
	clean_run
	[ ! -d "$W" ]
	[ ! -d "/sys/fs/cgroup/pids/$RUNID" ]
	! kill -0 "$pid" 2>/dev/null
	run ! "$RT_REAL" --root "$W/rtroot" state "$RUNID-leak"
}

@test "harness: created_ids and calls_summary read the wrapper's log" {
	log="$W/calls-x.log"
	cat >"$log" <<-'EOF'
		12:00:00.1 conmon: --log-format=json --log /x/oci-log create --bundle /b --pid-file /p abc
		12:00:00.2 podman: start abc
		12:00:00.3 containerd-shim: --root /r/ns --log /l --log-format json create --bundle /b2 --pid-file /p2 --console-socket /s def
		12:00:00.4 podman: kill abc 15
	EOF
	run -0 created_ids "$log"
	[ "$output" = $'- abc\n/r/ns def' ]
	run -0 calls_summary "$log"
	[[ "$output" == *"1 conmon: --log-format=json --log create --bundle --pid-file"* ]]
	[[ "$output" == *"1 containerd-shim: --root --log --log-format=json create --bundle --pid-file --console-socket"* ]]
	[[ "$output" == *"1 podman: kill SIG15"* ]]
}

@test "oci runner: ok, skip and not ok lines, a hollow in-container run and an orphan error" {
	cat >"$W/t.out" <<-'EOF'
		TAP version 13
		ok 1 - plain pass
		ok 2 - skipped one # SKIP not here
		not ok 3 - broken
		  ---
		  {
		    "stderr": "plugbox: sandbox setup failed",
		    "stdout": ""
		  }
		  ...
		ok 4 - check hostname
		  ---
		  {
		    "stderr": "",
		    "stdout": "TAP version 13\nok 1 - x\n"
		  }
		  ...
		ok 5 - check hostname again
		1..5
	EOF
	run -0 tap_results "$W/t.out"
	echo "$output"
	[ "$output" = $'ok\tplain pass\nskip\tskipped one\nfail\tbroken\nhollow\tcheck hostname\nok\tcheck hostname again' ]
	# The hooks programs report a failed MUST in a diagnostic that belongs
	# to no assertion, then an empty plan.
	cat >"$W/hooks.out" <<-'EOF'
		TAP version 13
		  ---
		  {
		    "error": "Hooks MUST be called in the listed order\nRefer to: somewhere"
		  }
		  ...
		1..0
	EOF
	run -0 tap_results "$W/hooks.out"
	[ "$output" = $'fail\terror: Hooks MUST be called in the listed order' ]
}

@test "oci runner: exit 0 without TAP, and a non-zero exit, are failures" {
	d="$W/r"
	mkdir -p "$d"
	: >"$d/quiet.out"
	echo 0 >"$d/quiet.rc"
	tap_results "$d/quiet.out" >"$d/quiet.tap"
	run -0 program_failures quiet "$d"
	[ "$output" = "no TAP" ]
	printf 'TAP version 13\nok 1 - a\n' >"$d/crash.out"
	echo 2 >"$d/crash.rc"
	tap_results "$d/crash.out" >"$d/crash.tap"
	run -0 program_failures crash "$d"
	[ "$output" = "exit 2" ]
}

@test "oci runner: an expected failure needs its key and its evidence" {
	printf 'time="x" level=error msg="openat2 /sys/fs/cgroup/blkio/cgrouptest/blkio.leaf_weight: no such file"\n' >"$W/p.err"
	: >"$W/p.out"
	exp=$'exit 1\tblkio\\.(leaf_)?weight\nnot ok: other\t-'
	is_expected "exit 1" "$exp" "$W/p.out" "$W/p.err"
	is_expected "not ok: other" "$exp" "$W/p.out" "$W/p.err"
	run ! is_expected "exit 2" "$exp" "$W/p.out" "$W/p.err"
	printf 'some other cause\n' >"$W/p.err"
	run ! is_expected "exit 1" "$exp" "$W/p.out" "$W/p.err"
	# Every entry of the shipped list is well formed, and only "all" entries
	# apply to plugbox.
	expected_for check check
	[ "$(awk -F'\t' '!/^#/ && NF { print $1 }' "$EXPECTED" | grep -c plugbox)" = 0 ]
}
