#!/usr/bin/env bats
# The seccomp monitor and the limits it enforces, attacked (issue 10): a
# plugin flooding denied calls must not be able to make plugbox write, read
# or compute without bound; no violation may go unrecorded without a word in
# `state`, `violations` and run's summary (full disk, killed or stopped
# monitor); and the wall-clock limit and die-with-parent hold on every path.

load helpers

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	# The flooding plugin: a static Go program making denied mount(2) calls.
	export FLOOD="$BATS_FILE_TMPDIR/flood"
	(cd "$BATS_TEST_DIRNAME" && CGO_ENABLED=0 "${GO:-go}" build -o "$FLOOD" ./flood)
}

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+ and set cgroup limits, which needs root"
	AUTHORED=$(mktemp -d /tmp/plugbox-monitor.XXXXXX)
	chmod 755 "$AUTHORED"
}

teardown() {
	if [ -n "${FULL_FS:-}" ]; then
		rm -f "$ROOT/fill"
		for id in $(ls -A "$ROOT"); do
			pb delete --force "$id" || true
		done
		umount "$ROOT"
	fi
	plugbox_teardown
	rm -rf "$AUTHORED"
}

# flood_bundle DIR COMMAND-JSON [LIMITS-JSON] authors a bundle around the
# flood program; its profile denies mount(2) through the monitor.
flood_bundle() {
	cat > "$AUTHORED/plugin.json" <<-JSON
	{"name": "flood", "command": $2, "syscalls": ["base", "threads", "time"],
	 "limits": ${3:-{\}}}
	JSON
	"$PLUGBOX" bundle init --exec "$FLOOD" --manifest "$AUTHORED/plugin.json" "$1" >/dev/null
}

# monitor_field ID JQ reads the container's monitor status.
monitor_field() {
	jq -r "$2" "$ROOT/$1/monitor.status"
}

# wait_listener ID prints the pid of the process serving the container's
# seccomp listener once it runs: plugbox __plugbox-monitor with the ID among
# its arguments (not the supervisor, whose role is "supervise").
wait_listener() {
	local i dir args
	for i in $(seq 50); do
		for dir in /proc/[0-9]*; do
			args="$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)" || continue
			if [[ " $args " == *" __plugbox-monitor "*" $1 "* && " $args " != *" supervise "* ]]; then
				echo "${dir#/proc/}"
				return 0
			fi
		done
		sleep 0.1
	done
	echo "no monitor process serves the listener of $1 after 5s" >&2
	return 1
}

# cpu_ticks PID prints the user+system CPU time of PID, in clock ticks.
cpu_ticks() {
	local stat
	stat="$(cat /proc/"$1"/stat)"
	stat="${stat##*) }"
	set -- $stat
	echo $((${12} + ${13}))
}

# annotation ID KEY prints one annotation of the container's state.
annotation() {
	pb state "$1" | jq -r --arg k "$2" '.annotations[$k] // empty'
}

# mount_calls prints how many mount(2) calls the JSON log on stdin accounts
# for: call lines (with their counts) and "dropped" notices.
mount_calls() {
	jq -s '[.[] | if .notice == "dropped" then (.calls.mount // 0)
		elif .syscall == "mount" then (.count // 1) else 0 end] | add // 0'
}

@test "a flood of one denied call: charged to the plugin's CPU limit, aggregated, every call counted" {
	flood_bundle "$AUTHORED/b" '["/flood", "same", "5"]' '{"cpus": 0.2}'
	id="$(cid same)"
	run -0 pb_bg run --detach --bundle "$AUTHORED/b" "$id"
	listener="$(wait_listener "$id")"
	t0="$(cpu_ticks "$listener")"
	s0="$(date +%s%N)"
	sleep 2
	t1="$(cpu_ticks "$listener")"
	s1="$(date +%s%N)"
	# it shares the plugin's 0.2 CPU: at most that (plus rounding), where an
	# uncharged monitor used 0.5 of a core for the same flood
	share=$(( (t1 - t0) * 10000000 * 100 / (s1 - s0) ))
	echo "monitor CPU share: ${share}% of a core"
	[ "$share" -le 25 ]
	# the monitor is in the container's CPU cgroup, and not listed as one
	# of the container's processes
	cpu_cgroup="$(jq -r '.cgroup_paths.cpu' "$ROOT/$id/$id/state.json")"
	grep -qx "$listener" "$cpu_cgroup/cgroup.procs"
	run -0 pb ps --format json "$id"
	[[ "$output" != *"$listener"* ]]

	wait_status "$id" stopped
	calls="$(awk '/^calls / {print $2}' "$(ctr_out "$id")")"
	[ "$calls" -gt 1000 ]
	grep -q "eperm $calls " "$(ctr_out "$id")"
	for i in $(seq 50); do [ "$(monitor_field "$id" .finished)" = true ] && break; sleep 0.1; done
	# a few lines with counts, not one line per call (190 bytes each before)
	size="$(stat -c %s "$ROOT/$id/violations.jsonl")"
	echo "log: $size bytes for $calls calls"
	[ "$size" -lt 32768 ]
	run -0 pb violations --format json "$id"
	[ "$(mount_calls <<<"$output")" = "$calls" ]
	run -0 pb violations "$id"
	[[ "$output" == *" mount(0x0, 0x0, 0x0, 0x0, 0x0, 0x0) denied ×"* ]]
}

@test "distinct denied calls past the rate limit are counted in a dropped notice; run's summary says so" {
	flood_bundle "$AUTHORED/b" '["/flood", "distinct", "3"]'
	id="$(cid distinct)"
	run -0 pb run --keep --bundle "$AUTHORED/b" "$id"
	calls="$(awk '/^calls / {print $2}' <<<"$output")"
	echo "calls: $calls"
	[ "$calls" -gt 2000 ]
	[[ "$output" == *"seccomp denied"*"mount"*"only counted, beyond the log's rate or size limit"* ]]
	lines="$(wc -l < "$ROOT/$id/violations.jsonl")"
	echo "log: $lines lines for $calls calls"
	# the burst (500) and 100 lines/s for the 3 s run, plus notices
	[ "$lines" -le 1000 ]
	run -0 pb violations --format json "$id"
	[ "$(mount_calls <<<"$output")" = "$calls" ]
	jq -e -s 'map(select(.notice == "dropped")) | length >= 1' <<<"$output"
	run -0 pb violations "$id"
	[[ "$output" == *"notice dropped: "*"calls were answered but not logged one by one (more than 100 lines/s)"* ]]
	run -0 pb delete "$id"
}

@test "violations reads a 150 MB log in bounded memory" {
	flood_bundle "$AUTHORED/b" '["/flood", "tick", "1", "0s"]'
	id="$(cid big)"
	run -0 pb run --keep --bundle "$AUTHORED/b" "$id"
	log="$ROOT/$id/violations.jsonl"
	line="$(head -n 1 "$log")"
	yes "$line" | head -n 800000 > "$log"
	[ "$(stat -c %s "$log")" -gt 150000000 ]
	for format in text json; do
		/usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" "$PLUGBOX" --root "$ROOT" violations --format "$format" "$id" > "$BATS_TEST_TMPDIR/out"
		[ "$(wc -l < "$BATS_TEST_TMPDIR/out")" = 800000 ]
		rss="$(cat "$BATS_TEST_TMPDIR/rss")"
		echo "violations --format $format: max RSS $rss kB"
		# it used to read the whole file: 1 GiB for a 191 MB log
		[ "$rss" -lt 65536 ]
	done
	run -0 pb delete "$id"
}

@test "a full state file system: lost calls are named by run, state and violations, and no line is torn" {
	ROOT="$BATS_TEST_TMPDIR/fullroot"
	mkdir -p "$ROOT"
	mount -t tmpfs -o size=1m,mode=0700 tmpfs "$ROOT"
	FULL_FS=1
	flood_bundle "$AUTHORED/b" '["/flood", "tick", "60", "40ms"]'
	id="$(cid full)"
	pb run --keep --bundle "$AUTHORED/b" "$id" > "$BATS_TEST_TMPDIR/run.out" 2>&1 3>&- &
	runpid=$!
	for i in $(seq 50); do grep -q '^call 5 ' "$BATS_TEST_TMPDIR/run.out" && break; sleep 0.1; done
	dd if=/dev/zero of="$ROOT/fill" bs=4k 2>/dev/null || true
	rc=0
	wait "$runpid" || rc=$?
	cat "$BATS_TEST_TMPDIR/run.out"
	# every call was still denied (fail closed)
	[ "$(grep -c '^call .* EPERM' "$BATS_TEST_TMPDIR/run.out")" = 60 ]
	grep -q "warning: violation log degraded: [0-9]* calls answered but not logged (write .*violations.jsonl: no space left on device)" "$BATS_TEST_TMPDIR/run.out"
	run -0 annotation "$id" org.plugbox.enforced.monitor
	[[ "$output" == "violations; degraded: "*" calls answered but not logged"*"no space left on device"* ]]
	run -1 pb violations "$id"
	[[ "$output" == *"plugbox: violations $id: the log is incomplete: violation log degraded: "* ]]
	# whatever was written is whole lines
	jq -c . "$ROOT/$id/violations.jsonl" >/dev/null
	# every answered call is either in a line or counted as lost
	run -0 monitor_field "$id" '.log | "\(.calls) \(.logged) \(.lost)"'
	read -r calls logged lost <<<"$output"
	echo "calls $calls, logged $logged, lost $lost"
	[ "$lost" -gt 0 ]
	[ "$calls" = $((logged + lost)) ]
	mounts="$(jq -s 'map(select(.syscall == "mount")) | length' "$ROOT/$id/violations.jsonl")"
	[ "$mounts" -lt 60 ]
	[ $((mounts + lost)) -ge 60 ]
	rm -f "$ROOT/fill"
	run -0 pb delete "$id"
}

@test "a killed monitor is named by state, violations and the log; the plugin's calls fail closed" {
	flood_bundle "$AUTHORED/b" '["/flood", "tick", "30", "100ms"]'
	id="$(cid killed)"
	run -0 pb_bg run --detach --bundle "$AUTHORED/b" "$id"
	listener="$(wait_listener "$id")"
	sleep 0.5
	kill -KILL "$listener"
	for i in $(seq 30); do
		[[ "$(annotation "$id" org.plugbox.enforced.monitor)" == *lost* ]] && break
		sleep 0.1
	done
	run -0 annotation "$id" org.plugbox.enforced.monitor
	[[ "$output" == "violations; lost: the monitor process (pid $listener) was killed by signal 9 (SIGKILL) at "*"the kernel fails every later notified call with ENOSYS, unlogged" ]]
	run -1 pb violations "$id"
	[[ "$output" == *"notice monitor-died: the monitor process (pid $listener) was killed by signal 9"* ]]
	[[ "$output" == *"the log is incomplete: violation log lost: "* ]]
	# later calls fail closed: ENOSYS from the kernel, never allowed
	for i in $(seq 30); do grep -q ENOSYS "$(ctr_out "$id")" && break; sleep 0.1; done
	grep -q '^call [0-9]* ENOSYS' "$(ctr_out "$id")"
	run -1 grep -q ' OK ' "$(ctr_out "$id")"
	run -0 pb delete --force "$id"
}

@test "a stopped monitor holds a plugin's call about 2s, not forever; delete --force leaves no monitor behind" {
	flood_bundle "$AUTHORED/b" '["/flood", "tick", "100", "100ms"]'
	id="$(cid stopped)"
	run -0 pb_bg run --detach --bundle "$AUTHORED/b" "$id"
	listener="$(wait_listener "$id")"
	sleep 0.3
	kill -STOP "$listener"
	out="$(ctr_out "$id")"
	for i in $(seq 60); do grep -q ENOSYS "$out" && break; sleep 0.1; done
	cat "$out"
	# the call that met the stopped monitor returned within the deadline
	held="$(awk '$3 == "ENOSYS" {print $4; exit}' "$out")"
	[ -n "$held" ]
	awk -v h="${held%s}" 'BEGIN {exit !(h >= 1.5 && h <= 4)}'
	run -0 annotation "$id" org.plugbox.enforced.monitor
	[[ "$output" == *"lost: the monitor process (pid $listener) was stopped (SIGSTOP or a tracer) for 2s, so the supervisor killed it"* ]]
	wait_gone "$listener"
	# now stop the supervisor too: delete --force must not leave it behind
	supervisor="$(monitor_field "$id" .supervisor.pid)"
	kill -STOP "$supervisor"
	run -0 pb delete --force "$id"
	wait_gone "$supervisor"
	run -1 alive "$listener"
}

@test "the wall-clock limit holds under create + start, counted from start" {
	flood_bundle "$AUTHORED/b" '["/flood", "tick", "300", "100ms"]' '{"timeout": "2s"}'
	id="$(cid createstart)"
	run -0 pb_bg create --bundle "$AUTHORED/b" "$id"
	sleep 2.5
	# not started: the limit has not begun
	[ "$(status_of "$id")" = created ]
	run -0 pb start "$id"
	t0="$(date +%s%N)"
	sleep 1
	[ "$(status_of "$id")" = running ]
	for i in $(seq 60); do [ "$(status_of "$id")" = stopped ] && break; sleep 0.05; done
	elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "stopped ${elapsed} ms after start"
	[ "$(status_of "$id")" = stopped ]
	[ "$elapsed" -le 3000 ]
	run -0 annotation "$id" org.plugbox.ended
	[ "$output" = "timeout: wall-clock limit 2s exceeded" ]
	run -0 annotation "$id" org.plugbox.enforced.timeout
	[ "$output" = 2s ]
	run -0 pb delete "$id"
}

@test "the wall-clock limit holds for run --detach of a bundle without plugbox's other layers" {
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" '.annotations["org.plugbox.timeout"] = "2s"'
	id="$(cid detach)"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
	t0="$(date +%s%N)"
	pid="$(pid_of "$id")"
	sleep 1
	alive "$pid"
	for i in $(seq 60); do alive "$pid" || break; sleep 0.05; done
	elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "gone ${elapsed} ms after run --detach returned"
	run -1 alive "$pid"
	[ "$elapsed" -le 3000 ]
	[ "$(annotation "$id" org.plugbox.ended)" = "timeout: wall-clock limit 2s exceeded" ]
	run -0 pb delete "$id"
}

@test "a malformed limit fails the create; a foreground run ends at the limit with exit 137 and says why" {
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" '.annotations["org.plugbox.timeout"] = "abc"'
	run -1 pb_bg create --bundle "$BUNDLE" "$(cid bad)"
	error_line 'org.plugbox.timeout' '"abc"' 'not a positive duration'
	root_empty
	jq_config "$BUNDLE" '.annotations["org.plugbox.timeout"] = "1s"'
	run -137 pb run --bundle "$BUNDLE" "$(cid fg)"
	[[ "$output" == *"plugbox: $(cid fg): wall-clock limit 1s exceeded: the plugin was killed"* ]]
}

@test "kill -9 of a foreground run kills the plugin (die with parent)" {
	make_bundle "$BUNDLE" sh -c 'sleep 30 & sleep 30; true'
	id="$(cid orphan)"
	"$PLUGBOX" --root "$ROOT" run --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>&1 3>&- &
	runpid=$!
	pids="$(wait_pids "$id" 3 2>/dev/null)"
	kill -KILL "$runpid"
	for pid in $pids; do
		wait_gone "$pid"
	done
	[ "$(annotation "$id" org.plugbox.ended)" = "parent-died: the plugbox run that owned the plugin died" ]
	run -0 pb delete "$id"
}
