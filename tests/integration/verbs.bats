#!/usr/bin/env bats
# The runc verbs podman, containerd and the OCI suite call beyond the
# lifecycle: exec, pause, resume, update, events, state's runc fields, and
# the ones plugbox refuses in one line (checkpoint, restore, --systemd-cgroup).

load helpers

setup() {
	plugbox_setup
	make_bundle "$BUNDLE" sleep 1000
	ID="$(cid v)"
}

teardown() {
	plugbox_teardown
}

start_detached() {
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$ID"
	wait_status "$ID" running
}

@test "exec runs a command in the container's namespaces and exits with its status" {
	start_detached
	init="$(pid_of "$ID")"
	run -4 pb exec --env FOO=bar --cwd /bin "$ID" sh -c 'echo "$FOO $(pwd) $(id -u)"; exit 4'
	[ "$output" = "bar /bin 0" ]
	# the same mount namespace as the container's init
	run -0 pb exec "$ID" sh -c 'readlink /proc/self/ns/mnt'
	[ "$output" = "$(readlink /proc/"$init"/ns/mnt)" ]
	run -0 pb exec --user 1000:1000 "$ID" id -u
	[ "$output" = 1000 ]
}

@test "exec --process FILE --detach --pid-file, as conmon and containerd's shim call it" {
	start_detached
	cat > "$BATS_TEST_TMPDIR/process.json" <<-JSON
	{"args": ["sh", "-c", "echo from-exec > /dev/shm/x; sleep 1000"], "cwd": "/", "env": ["PATH=/bin", "PLUGBOX_BATS_MARK=$CID_PREFIX"], "user": {"uid": 0, "gid": 0}}
	JSON
	# The detached process keeps plugbox's stdio: not bats' pipe.
	pb exec --process "$BATS_TEST_TMPDIR/process.json" --detach --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$ID" \
		</dev/null >"$BATS_TEST_TMPDIR/exec.out" 2>&1 3>&-
	pid="$(cat "$BATS_TEST_TMPDIR/exec.pid")"
	alive "$pid"
	run -0 pb ps --format json "$ID"
	[ "$(jq "index($pid)" <<<"$output")" != null ]
	run -0 pb exec "$ID" cat /dev/shm/x
	[ "$output" = from-exec ]
}

@test "exec into a stopped or paused container fails with one line and exit 255" {
	start_detached
	run -0 pb pause "$ID"
	run -255 pb exec "$ID" true
	error_line "paused" "--ignore-paused"
	run -0 pb resume "$ID"
	run -0 pb kill "$ID" KILL
	wait_status "$ID" stopped
	run -255 pb exec "$ID" true
	error_line "not running"
	run -255 pb exec "$ID"
	error_line "missing COMMAND"
}

@test "pause freezes every process, resume thaws them" {
	set_args "$BUNDLE" sh -c 'i=0; while true; do i=$((i+1)); echo $i > /dev/shm/n; sleep 0.05; done'
	start_detached
	sleep 0.3
	run -0 pb pause "$ID"
	[ "$(status_of "$ID")" = paused ]
	n1="$(cat /proc/"$(pid_of "$ID")"/root/dev/shm/n)"
	sleep 0.5
	n2="$(cat /proc/"$(pid_of "$ID")"/root/dev/shm/n)"
	[ "$n1" = "$n2" ]
	run -1 pb pause "$(cid nosuch)"
	run -0 pb resume "$ID"
	[ "$(status_of "$ID")" = running ]
	sleep 0.5
	n3="$(cat /proc/"$(pid_of "$ID")"/root/dev/shm/n)"
	[ "$n3" -gt "$n2" ]
	run -1 pb resume "$ID"
	error_line "not paused"
}

@test "update changes limits from flags and from --resources -, and they hold" {
	set_args "$BUNDLE" sleep 1000
	jq_config "$BUNDLE" '.linux.resources.pids = {limit: 100}'
	start_detached
	pids_max() { cat "$(find /sys/fs/cgroup -path "*/$ID/pids.max" | head -1)"; }
	[ "$(pids_max)" = 100 ]
	run -0 pb update --pids-limit 3 "$ID"
	[ "$(pids_max)" = 3 ]
	# init + sh + one child: the fourth process is refused
	run pb exec "$ID" sh -c 'sleep 5 & sleep 5 & sleep 5 & wait'
	[[ "$output" == *"Resource temporarily unavailable"* || "$output" == *"can't fork"* ]]
	echo '{"pids": {"limit": 50}, "memory": {"limit": 67108864}}' | pb update --resources - "$ID"
	[ "$(pids_max)" = 50 ]
	run -0 pb events --stats "$ID"
	[ "$(jq -r .type <<<"$output")" = stats ]
	[ "$(jq -r .id <<<"$output")" = "$ID" ]
	[ "$(jq -r .data.memory.usage.limit <<<"$output")" = 67108864 ]
	[ "$(jq -r '.data.pids.current' <<<"$output")" -ge 1 ]
	run -1 pb update --memory lots "$ID"
	error_line "--memory" "lots"
}

@test "state and list carry runc's rootfs, created and owner" {
	start_detached
	run -0 pb state "$ID"
	[ "$(jq -r .rootfs <<<"$output")" = "$BUNDLE/rootfs" ]
	[ "$(jq -r .owner <<<"$output")" = "$(id -un)" ]
	created="$(jq -r .created <<<"$output")"
	[ "$(date -d "$created" +%s)" -le "$(date +%s)" ]
	run -0 pb list --format json
	[ "$(jq -r '.[0].rootfs' <<<"$output")" = "$BUNDLE/rootfs" ]
	[ "$(jq -r '.[0].created' <<<"$output")" = "$created" ]
}

@test "ps passes ps arguments, as runc does" {
	start_detached
	run -0 pb ps "$ID" -o pid,comm
	[ "${lines[0]}" = "$(ps -o pid,comm | head -1)" ]
	[[ "${lines[1]}" == *sleep ]]
}

@test "checkpoint, restore and --systemd-cgroup are refused in one line" {
	start_detached
	run -1 pb checkpoint "$ID"
	error_line "checkpoint" "not supported"
	run -1 pb restore "$ID"
	error_line "restore" "not supported"
	run -1 pb --systemd-cgroup state "$ID"
	error_line "--systemd-cgroup" "cgroupfs"
	run -1 pb --rootless maybe state "$ID"
	error_line "--rootless" "true, false or auto"
	run -0 pb --rootless false state "$ID"
}

@test "a FIFO device with numbers and a bind mount with data options run, as under runc 1.1 and crun" {
	set_args "$BUNDLE" sh -c 'ls -l /dev/fifo1 && ls /mnt/etc >/dev/null && echo ok'
	jq_config "$BUNDLE" '.linux.devices = [{path: "/dev/fifo1", type: "p", major: 8, minor: 666, fileMode: 432}]
		| .mounts += [{destination: "/mnt/etc", type: "bind", source: "/etc", options: ["rbind", "ro", "mode=755", "size=1k"]}]'
	run -0 pb run --bundle "$BUNDLE" "$ID"
	[[ "$output" == p* ]]
	[[ "$output" == *ok ]]
}
