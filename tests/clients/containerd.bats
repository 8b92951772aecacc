#!/usr/bin/env bats
# containerd drives RUNTIME (default bin/plugbox) through its runc shim
# (io.containerd.runc.v2 with options.BinaryName, which `ctr run
# --runc-binary` sets), the way a containerd user runs containers with ctr.
# Validate with RUNTIME=/usr/sbin/runc: every check passes there.
#
# The containerd is private: config, root, state, gRPC socket, the shim's
# runtime root (--runc-root) and ctr's FIFOs all live under $W; it is started
# here and stopped at the end.

load lib
load containerd

IMG=localhost/clients-busybox:1

setup_file() {
	clients_apt containerd busybox-static jq bsdutils
	clients_init containerd
	containerd_config ""
	containerd_start
	ctr_ images import "$(image_archive "$IMG" '["/bin/sh"]')" >&2
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		ctr_clean
		containerd_stop
		save_calls
		clean_run
	fi
}

# crun_ runs `ctr run` with RUNTIME, the private runtime root and FIFOs, a
# cgroup below the run's parent, and the process marker.
crun_() {
	local opts=() name
	while [ "${1#-}" != "$1" ]; do
		opts+=("$1")
		shift
	done
	name="$1"
	shift
	ctr_ run --runc-binary "$RT" --runc-root "$W/runtime-root" --fifo-dir "$W/fifo" \
		--cgroup "/$RUNID/$name" --env "CLIENTS_MARK=$RUNID" "${opts[@]}" "$IMG" "$name" "$@"
}

# task_field NAME FIELD prints PID or STATUS of task NAME from `ctr task ls`.
task_field() {
	ctr_ task ls | awk -v n="$1" -v f="$2" '$1 == n { print (f == "PID" ? $2 : $3) }'
}

task_status_is() {
	[ "$(task_field "$1" STATUS)" = "$2" ]
}

# rt_state NAME prints the runtime's own state of container NAME.
rt_state() {
	"$RT_REAL" --root "$W/runtime-root/$CTR_NS" state "$1"
}

# task_delete NAME deletes the stopped task NAME and prints its exit code
# (ctr reports a non-zero one only in a warning).
task_delete() {
	local out
	out="$(ctr_ task delete "$1" 2>&1)" || { echo "$out" >&2; return 1; }
	if [[ "$out" =~ "non-zero exit code "([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo 0
	fi
}

log_lines() {
	[ -f "$1" ] && wc -l <"$1" || echo 0
}

@test "containerd: private daemon is up and the image is imported" {
	run -0 ctr_ images ls -q
	[[ "$output" == *"$IMG"* ]]
}

@test "ctr run: prints the program's output and exits 0" {
	run -0 crun_ --rm c-echo echo hello from ctr
	[ "$output" = "hello from ctr" ]
}

@test "ctr run: exit code of the program" {
	run -3 crun_ --rm c-exit sh -c 'exit 3'
}

@test "ctr run -d: the task runs under RUNTIME, task ls and task ps list it" {
	run -0 crun_ -d c-det sleep 1000
	wait_for 10 task_status_is c-det RUNNING
	pid="$(task_field c-det PID)"
	[ "$(cat "/proc/$pid/comm")" = sleep ]
	run -0 rt_state c-det
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]
	grep -q ":pids:/$RUNID/c-det\$" "/proc/$pid/cgroup"
	run -0 ctr_ task ps c-det
	[[ "$output" == *"$pid"* ]]
}

@test "ctr task exec: runs in the container and returns the exit code" {
	run -4 ctr_ task exec --fifo-dir "$W/fifo" --exec-id e1 c-det sh -c 'echo "pid1 is $(cat /proc/1/comm)"; exit 4'
	[ "$output" = "pid1 is sleep" ]
	run -0 ctr_ task exec --fifo-dir "$W/fifo" --exec-id e2 --user 65534 --cwd /tmp c-det sh -c 'echo "$(id -u) $(pwd) $CLIENTS_MARK"'
	[ "$output" = "65534 /tmp $RUNID" ]
}

@test "ctr task exec -t: an exec'd process with a terminal (through script(1))" {
	local cmd
	printf -v cmd '%q ' ctr --address "$W/containerd.sock" --namespace "$CTR_NS" task exec -t \
		--fifo-dir "$W/fifo" --exec-id e3 c-det sh -c 'tty; [ -t 0 ] && echo stdin-is-tty'
	run -0 timeout -k 5 60 script -qec "exec $cmd" /dev/null </dev/null
	output="${output//$'\r'/}"
	[[ "$output" == *"/dev/pts/"* ]]
	[[ "$output" == *stdin-is-tty* ]]
}

@test "ctr task pause/resume: the task stops running while paused" {
	crun_ -d --log-uri="file://$W/count.log" c-count sh -c 'while :; do echo tick; sleep 0.1; done' >/dev/null
	wait_for 10 eval '[ "$(log_lines "$W/count.log")" -ge 3 ]'
	pid="$(task_field c-count PID)"
	run -0 ctr_ task pause c-count
	task_status_is c-count PAUSED
	[ "$(cat "$(cgroup_file "$pid" freezer freezer.state)")" = FROZEN ]
	before="$(log_lines "$W/count.log")"
	sleep 1
	[ "$(log_lines "$W/count.log")" -eq "$before" ]
	run -0 ctr_ task resume c-count
	task_status_is c-count RUNNING
	[ "$(cat "$(cgroup_file "$pid" freezer freezer.state)")" = THAWED ]
	wait_for 5 eval '[ "$(log_lines "$W/count.log")" -gt "$before" ]'
}

@test "ctr task kill: delivers the signal asked for; SIGKILL stops an unwilling task" {
	crun_ -d --log-uri="file://$W/sig.log" c-sig sh -c 'trap "exit 43" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
	wait_for 10 grep -qx ready "$W/sig.log"
	run -0 ctr_ task kill -s USR1 c-sig
	wait_for 10 task_status_is c-sig STOPPED
	run -0 task_delete c-sig
	[ "$output" = 43 ]
	# ctr's default signal is SIGTERM, which a pid 1 without a handler
	# ignores; SIGKILL then stops it.
	run -0 ctr_ task kill c-det
	sleep 1
	task_status_is c-det RUNNING
	run -0 ctr_ task kill -s KILL c-det
	wait_for 10 task_status_is c-det STOPPED
	run -0 task_delete c-det
	[ "$output" = 137 ]
}

@test "ctr task delete and container delete: no task, container, runtime state or snapshot left" {
	run -0 ctr_ task kill -s KILL c-count
	wait_for 10 task_status_is c-count STOPPED
	run -0 task_delete c-count
	[ "$output" = 137 ]
	run ! rt_state c-count
	run -0 ctr_ containers delete c-count c-sig c-det
	run -0 ctr_ containers ls -q
	[ "$output" = "" ]
	run -0 ctr_ snapshots ls
	[ "$(wc -l <<<"$output")" -le 2 ] # the header and the image's layer
	[[ "$output" != *c-count* ]]
}

@test "ctr run -t: the program gets a terminal (through script(1))" {
	local cmd
	printf -v cmd '%q ' ctr --address "$W/containerd.sock" --namespace "$CTR_NS" run --rm -t \
		--runc-binary "$RT" --runc-root "$W/runtime-root" --fifo-dir "$W/fifo" \
		--cgroup "/$RUNID/c-tty" --env "CLIENTS_MARK=$RUNID" "$IMG" c-tty sh -c 'echo ready; read line; echo "got:$line:$(tty)"'
	terminal_session "timeout --foreground -k 5 60 $cmd"
	echo "$output"
	[[ "$output" == *"got:typed:/dev/pts/0"* ]]
}

@test "containerd: no tasks, containers, shims, runtime state, mounts or cgroups left" {
	ctr_clean
	run -0 ctr_ containers ls -q
	[ "$output" = "" ]
	containerd_stop
	run -0 leaks
	echo "$output"
	[ "$output" = "" ]
	# The shim's runtime root holds nothing but the namespace directory.
	run -0 find "$W/runtime-root" -mindepth 2
	[ "$output" = "" ]
}
