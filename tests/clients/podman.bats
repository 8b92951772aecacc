#!/usr/bin/env bats
# podman drives RUNTIME (default bin/plugbox) as a drop-in OCI runtime, the
# way a podman user runs containers: `podman --runtime PATH run ...`. Every
# check is a podman operation and what the container could or could not do.
# Validate with RUNTIME=/usr/sbin/runc: every check passes there.
#
# podman runs with private storage, containers.conf and storage.conf under
# $W: cgroupfs manager (PID 1 is not systemd), the events log in a file,
# no network by default (podman's default bridge would add a host bridge and
# iptables rules through CNI),
# default nofile/nproc rlimits lowered (root lacks CAP_SYS_RESOURCE here, so
# it cannot raise them to podman's defaults), and an image loaded from a
# local OCI archive of busybox (no registry is reachable). podman calls the
# runtime with its default --root (podman 4.3 ignores --runtime-flag root=
# on `delete`, which would leave state behind).

load lib

IMG=localhost/clients-busybox:1

setup_file() {
	clients_apt podman conmon busybox-static jq bsdutils
	clients_init podman
	mkdir -p "$W/storage" "$W/run" "$W/libpod-tmp" "$W/net"
	cat >"$W/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
		netns = "none"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$W/events.log"
		tmp_dir = "$W/libpod-tmp"
		[network]
		network_config_dir = "$W/net"
	EOF
	cat >"$W/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$W/storage"
		runroot = "$W/run"
	EOF
	export CONTAINERS_CONF="$W/containers.conf" CONTAINERS_STORAGE_CONF="$W/storage.conf" TMPDIR="$W/tmp"
	# podman keeps its blob-info cache in /var/lib/containers/cache whatever
	# the storage root; remove it afterwards if this run created it.
	REMOVE_VAR_LIB_CONTAINERS=""
	[ -e /var/lib/containers ] || REMOVE_VAR_LIB_CONTAINERS=1
	export REMOVE_VAR_LIB_CONTAINERS
	pm load -i "$(image_archive "$IMG" '["/bin/sh"]')" >&2
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		pm rm --all --force --time 0 >/dev/null 2>&1
		pm rmi --all --force >/dev/null 2>&1
		save_calls
		clean_run
		if [ -n "$REMOVE_VAR_LIB_CONTAINERS" ]; then
			rm -rf /var/lib/containers
		fi
	fi
}

# pm runs podman with this run's configuration and RUNTIME's wrapper, from
# $W: conmon writes a file "oom" into its working directory when a
# container is OOM-killed.
pm() {
	(cd "$W" && timeout -k 5 "${PM_TIMEOUT:-90}" podman --runtime "$RT" "$@")
}

# prun runs `podman run` with the run's cgroup parent and process marker.
prun() {
	pm run --cgroup-parent "/$RUNID" --env "CLIENTS_MARK=$RUNID" "$@"
}

# logs_lines NAME prints how many lines container NAME has written.
logs_lines() {
	pm logs "$1" 2>/dev/null | wc -l
}

# logs_have NAME TEXT succeeds once NAME's output contains the line TEXT.
logs_have() {
	pm logs "$1" 2>/dev/null | grep -qx "$2"
}

status_is() {
	[ "$(pm inspect -f '{{.State.Status}}' "$1")" = "$2" ]
}

@test "podman: image loaded from a local OCI archive" {
	run -0 pm images --format '{{.Repository}}:{{.Tag}}'
	[[ "$output" == *"$IMG"* ]]
}

@test "podman run: prints the program's output and exits 0" {
	run -0 prun --rm "$IMG" echo hello from podman
	[ "$output" = "hello from podman" ]
}

@test "podman run: exit code of the program" {
	run -3 prun --rm "$IMG" sh -c 'exit 3'
}

@test "podman run -d: the container runs under RUNTIME and ps lists it" {
	run -0 prun -d --name det "$IMG" sleep 1000
	id="$output"
	run -0 pm ps --format '{{.Names}} {{.Status}}'
	[[ "$output" == *"det Up"* ]]
	pid="$(pm inspect -f '{{.State.Pid}}' det)"
	[ "$pid" -gt 0 ]
	[ "$(cat "/proc/$pid/comm")" = sleep ]
	# conmon was told to use the wrapper, and the runtime's own state
	# agrees with podman: running, same pid.
	conmon="$(pm inspect -f '{{.State.ConmonPid}}' det)"
	tr '\0' ' ' <"/proc/$conmon/cmdline" | grep -qF -- "-r $RT "
	run -0 "$RT_REAL" state "$id"
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]
	# The container's cgroup is below the run's cgroup parent.
	grep -q ":pids:/$RUNID/" "/proc/$pid/cgroup"
}

@test "podman exec: runs in the container's namespaces and returns the exit code" {
	run -5 pm exec det sh -c 'echo "pid1 is $(cat /proc/1/comm)"; exit 5'
	[ "$output" = "pid1 is sleep" ]
	run -0 pm exec --user 65534 -w /tmp det sh -c 'echo "$(id -u) $(pwd) $CLIENTS_MARK"'
	[ "$output" = "65534 /tmp $RUNID" ]
}

@test "podman pause/unpause: the container stops running while paused" {
	prun -d --name counter "$IMG" sh -c 'while :; do echo tick; sleep 0.1; done' >/dev/null
	wait_for 10 eval '[ "$(logs_lines counter)" -ge 3 ]'
	pid="$(pm inspect -f '{{.State.Pid}}' counter)"
	run -0 pm pause counter
	status_is counter paused
	[ "$(cat "$(cgroup_file "$pid" freezer freezer.state)")" = FROZEN ]
	before="$(logs_lines counter)"
	sleep 1
	[ "$(logs_lines counter)" -eq "$before" ]
	run -0 pm unpause counter
	status_is counter running
	[ "$(cat "$(cgroup_file "$pid" freezer freezer.state)")" = THAWED ]
	wait_for 5 eval '[ "$(logs_lines counter)" -gt "$before" ]'
	pm rm -f -t 0 counter >/dev/null
}

@test "podman stop: SIGTERM reaches the program, which exits by itself" {
	prun -d --name term "$IMG" sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
	wait_for 10 logs_have term ready
	start=$SECONDS
	run -0 pm stop -t 10 term
	[ $((SECONDS - start)) -lt 5 ]
	[ "$(pm inspect -f '{{.State.ExitCode}}' term)" = 42 ]
	pm rm term >/dev/null
}

@test "podman stop: a program that ignores SIGTERM is killed after the timeout (137)" {
	prun -d --name hang "$IMG" sleep 1000 >/dev/null
	start=$(date +%s%N)
	run -0 pm stop -t 2 hang
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "stop took ${elapsed_ms} ms"
	[ "$elapsed_ms" -ge 1900 ]
	[ "$elapsed_ms" -lt 8000 ]
	[ "$(pm inspect -f '{{.State.ExitCode}}' hang)" = 137 ]
	pm rm hang >/dev/null
}

@test "podman kill: delivers the signal asked for, SIGKILL by default" {
	prun -d --name usr1 "$IMG" sh -c 'trap "exit 43" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
	wait_for 10 logs_have usr1 ready
	run -0 pm kill -s USR1 usr1
	run -0 pm wait usr1
	[ "$output" = 43 ]
	prun -d --name k9 "$IMG" sleep 1000 >/dev/null
	run -0 pm kill k9
	run -0 pm wait k9
	[ "$output" = 137 ]
	pm rm usr1 k9 >/dev/null
}

@test "podman rm -f: removes a running container and its runtime state" {
	run -0 prun -d --name gone "$IMG" sleep 1000
	id="$output"
	pid="$(pm inspect -f '{{.State.Pid}}' gone)"
	run -0 pm rm -f -t 0 gone
	run -0 pm ps -a --format '{{.Names}}'
	[[ "$output" != *gone* ]]
	run ! "$RT_REAL" state "$id"
	wait_for 5 eval '! kill -0 '"$pid"' 2>/dev/null'
}

@test "podman run --network none: only loopback, in a network namespace of its own" {
	host_ns="$(readlink /proc/self/ns/net)"
	run -0 prun --rm --network none "$IMG" sh -c 'ls /sys/class/net; readlink /proc/self/ns/net'
	[ "${lines[0]}" = lo ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" != "$host_ns" ]
	# Control: --network host shares the host's namespace.
	run -0 prun --rm --network host "$IMG" readlink /proc/self/ns/net
	[ "$output" = "$host_ns" ]
}

@test "podman run --read-only: the root filesystem cannot be written" {
	run -0 prun --rm --network none --read-only "$IMG" sh -c 'touch /etc/x; echo "rc=$?"; touch /tmp/y && echo tmp-writable'
	[[ "$output" == *"Read-only file system"* ]]
	[[ "$output" == *"rc=1"* ]]
	[[ "$output" == *tmp-writable* ]]
	# Control: without --read-only the same write works.
	run -0 prun --rm --network none "$IMG" sh -c 'touch /etc/x && echo written'
	[ "$output" = written ]
}

@test "podman run --pids-limit: pids.max is set and a fork loop stops at the limit" {
	prun -d --name pids --network none --pids-limit 10 "$IMG" sleep 1000 >/dev/null
	pid="$(pm inspect -f '{{.State.Pid}}' pids)"
	max="$(cgroup_file "$pid" pids pids.max)"
	[[ "$max" == "/sys/fs/cgroup/pids/$RUNID/"* ]]
	[ "$(cat "$max")" = 10 ]
	run pm exec pids sh -c 'for i in $(seq 30); do sleep 60 & done; echo all-forked'
	echo "$output"
	[[ "$output" == *"can't fork"* ]]
	[[ "$output" != *all-forked* ]]
	current="$(cat "$(cgroup_file "$pid" pids pids.current)")"
	echo "pids.current $current"
	[ "$current" -le 10 ]
	[ "$current" -ge 5 ]
	pm rm -f -t 0 pids >/dev/null
}

@test "podman run --memory: the limit is set and a memory hog is OOM-killed" {
	prun -d --name mem --network none --memory 32m "$IMG" sleep 1000 >/dev/null
	pid="$(pm inspect -f '{{.State.Pid}}' mem)"
	limit="$(cgroup_file "$pid" memory memory.limit_in_bytes)"
	[ "$(cat "$limit")" = 33554432 ]
	# Control: 8 MiB fit.
	run -0 pm exec mem sh -c 'head -c 8m /dev/zero | tail >/dev/null && echo fits'
	[ "$output" = fits ]
	# tail holds a line without newline in memory: 200 MiB cannot fit.
	run -137 pm exec mem sh -c 'head -c 200m /dev/zero | tail >/dev/null'
	oom="$(cgroup_file "$pid" memory memory.oom_control)"
	awk '$1 == "oom_kill" { print; exit ($2 > 0 ? 0 : 1) }' "$oom"
	pm rm -f -t 0 mem >/dev/null
}

@test "podman run -i: stdin reaches the program (and does not without -i)" {
	run -0 prun --rm -i --network none "$IMG" tr a-z A-Z <<<"hello stdin"
	[ "$output" = "HELLO STDIN" ]
	run -0 prun --rm --network none "$IMG" cat <<<"not forwarded"
	[ "$output" = "" ]
}

@test "podman run -t: the program gets a terminal" {
	run -0 prun --rm -t --network none "$IMG" sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; stty size'
	output="${output//$'\r'/}"
	[[ "$output" == *"/dev/pts/0"* ]]
	[[ "$output" == *both-tty* ]]
}

@test "podman run -it: an interactive terminal session (through script(1))" {
	local cmd
	printf -v cmd '%q ' timeout --foreground -k 5 60 podman --runtime "$RT" run --cgroup-parent "/$RUNID" \
		--env "CLIENTS_MARK=$RUNID" --rm -it --network none "$IMG" sh -c 'echo ready; read line; echo "got:$line:$(tty)"'
	terminal_session "$cmd"
	echo "$output"
	[[ "$output" == *"got:typed:/dev/pts/0"* ]]
}

@test "podman run --cap-drop all: no effective capabilities" {
	run -0 prun --rm --network none --cap-drop all "$IMG" grep CapEff /proc/self/status
	[ "$output" = "CapEff:	0000000000000000" ]
	# Control: podman's default set is not empty.
	run -0 prun --rm --network none "$IMG" grep CapEff /proc/self/status
	[ "$output" != "CapEff:	0000000000000000" ]
	[[ "$output" == CapEff:* ]]
}

@test "podman run --user: the program runs as that user and cannot write root's files" {
	run -1 prun --rm --network none --user 65534:65534 "$IMG" sh -c 'echo "$(id -u):$(id -g)"; touch /etc/x'
	[ "${lines[0]}" = "65534:65534" ]
	[[ "$output" == *"Permission denied"* ]]
}

@test "podman run -w and --hostname and -e: working directory, hostname, environment" {
	run -0 prun --rm --network none -w /tmp --hostname hx -e FOO=bar "$IMG" sh -c 'echo "$(pwd) $(hostname) $(cat /proc/sys/kernel/hostname) $FOO"'
	[ "$output" = "/tmp hx hx bar" ]
}

@test "podman: no containers, runtime state, processes, mounts or cgroups left" {
	pm rm --all --force --time 0 >/dev/null
	run -0 pm ps -a -q
	[ "$output" = "" ]
	run -0 leaks
	# Not the runtime's: the overlay driver mounts its own home privately on
	# itself, and podman puts conmon in a "conmon" cgroup below the parent
	# that it never removes. clean_run removes both.
	output="$(grep -vx -e "mount: $W/storage/overlay" -e "cgroup: /sys/fs/cgroup/[a-z,=]*/$RUNID/conmon" <<<"$output" || true)"
	echo "$output"
	[ "$output" = "" ]
}
