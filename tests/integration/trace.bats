#!/usr/bin/env bats
# Learning mode and the violation log on a plugbox-authored bundle (issue 4):
# trace writes a profile, the plugin runs under it, and a call it did not
# make while traced is then denied and named by `plugbox violations`.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+, which needs root"
	# the sandbox's root is host uid 100000: its bundle must be reachable
	AUTHORED=$(mktemp -d /tmp/plugbox-trace.XXXXXX)
	chmod 755 "$AUTHORED"
	BUNDLE="$AUTHORED/bundle"
	cat > "$BATS_TEST_TMPDIR/plugin.json" <<-JSON
	{"name": "bb", "command": ["/bin/busybox", "cat", "/etc/passwd"],
	 "syscalls": ["base", "fs-read", "fs-write", "process"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$BATS_TEST_TMPDIR/plugin.json" "$BUNDLE"
}

teardown() {
	plugbox_teardown
	rm -rf "$AUTHORED"
}

@test "trace learns a profile that runs the plugin and denies what it did not use" {
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/learned.json" --apply
	[[ "$output" == *"bb:x:1000:1000"* ]]
	[[ "$output" == *'a manifest covering it: "syscalls": ["base","fs-read"]'* ]]
	# it says what it is doing, and when it is done
	[[ "${lines[0]}" == "plugbox: trace: running /bin/busybox cat /etc/passwd as container trace-"*" under the learning filter"* ]]
	[ "${lines[-1]}" = "plugbox: trace: done: wrote the learned linux.seccomp profile to $BATS_TEST_TMPDIR/learned.json and applied it to $BUNDLE/config.json" ]
	jq -e '.defaultAction == "SCMP_ACT_ERRNO"' "$BATS_TEST_TMPDIR/learned.json"
	# exactly what cat used: no group's other calls (mkdir, unlink, fork ...)
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | (index("openat") != null) and (index("mkdir") == null) and (index("fork") == null) and (index("getdents64") == null)' "$BATS_TEST_TMPDIR/learned.json"
	# the traced run left no container behind
	[ -z "$("$PLUGBOX" --root "$ROOT" list -q)" ]

	# the same plugin runs under the learned profile
	run -0 "$PLUGBOX" --root "$ROOT" run --bundle "$BUNDLE" "$(cid again)"
	[[ "$output" == *"bb:x:1000:1000"* ]]

	# mkdir was never traced: it is now denied, and the violation log names it
	jq '.process.args = ["/bin/busybox", "mkdir", "/tmp/new"]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -1 "$PLUGBOX" --root "$ROOT" run --keep --bundle "$BUNDLE" "$(cid denied)"
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *"seccomp denied"*"mkdir"* ]]
	run -0 "$PLUGBOX" --root "$ROOT" violations --format json "$(cid denied)"
	echo "$output" | jq -e -s 'map(select(.syscall == "mkdir" and .action == "denied")) | length == 1'
	"$PLUGBOX" --root "$ROOT" delete "$(cid denied)"
}

@test "the violation log names every escape an attack script tries" {
	jq '.process.args = ["/bin/busybox", "sh", "-c", "busybox mount -t tmpfs x /tmp; busybox unshare -U true; busybox nc 127.0.0.1 1 </dev/null; busybox chroot / true; true"]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -0 "$PLUGBOX" --root "$ROOT" run --keep --bundle "$BUNDLE" "$(cid attack)"
	run -0 "$PLUGBOX" --root "$ROOT" violations --format json "$(cid attack)"
	for call in mount unshare socket chroot; do
		echo "$output" | jq -e -s --arg c "$call" 'map(select(.syscall == $c and .action == "denied")) | length >= 1' >/dev/null || {
			echo "violation log misses $call: $output" >&2
			return 1
		}
	done
	# socket was refused for its family (AF_INET = 2), and that is recorded
	echo "$output" | jq -e -s 'map(select(.syscall == "socket" and .args[0] == 2)) | length == 1'
	"$PLUGBOX" --root "$ROOT" delete "$(cid attack)"
}

# allowed LEARNED prints how many calls the learned profile LEARNED allows.
allowed() {
	jq '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW" or .action == "SCMP_ACT_LOG") | .names[]] | unique | length' "$1"
}

@test "the profile learned for jq -n 1+1 (Debian's, dynamically linked) allows at most 60 calls, and jq runs under it" {
	[ -x /usr/bin/jq ] || skip "Debian's jq is missing: apt-get install jq (make deps)"
	file -L /usr/bin/jq | grep -q "dynamically linked" || { echo "/usr/bin/jq is not dynamically linked" >&2; return 1; }
	cat > "$BATS_TEST_TMPDIR/jq.json" <<-JSON
	{"name": "jq", "command": ["/usr/bin/jq", "-n", "1+1"]}
	JSON
	"$PLUGBOX" bundle init --exec /usr/bin/jq --manifest "$BATS_TEST_TMPDIR/jq.json" "$AUTHORED/jq"
	before=$(allowed <(jq .linux.seccomp "$AUTHORED/jq/config.json"))
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$AUTHORED/jq" -o "$BATS_TEST_TMPDIR/jq-learned.json" --apply
	n=$(allowed "$BATS_TEST_TMPDIR/jq-learned.json")
	echo "authored profile allows $before calls, learned $n" >&3
	[ "$n" -le 60 ]
	[ "$n" -lt "$before" ]
	run -0 "$PLUGBOX" --root "$ROOT" run --bundle "$AUTHORED/jq" "$(cid jq)"
	[ "$output" = 2 ]
}

@test "a bundle with onViolation kill keeps kill after trace --apply, and a call it did not learn kills it" {
	cat > "$BATS_TEST_TMPDIR/kill.json" <<-JSON
	{"name": "bbk", "command": ["/bin/busybox", "cat", "/etc/passwd"], "onViolation": "kill",
	 "syscallActions": {"mkdir": "errno:EACCES"}}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$BATS_TEST_TMPDIR/kill.json" "$AUTHORED/kill"
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$AUTHORED/kill" -o "$BATS_TEST_TMPDIR/k.json" --apply
	[[ "$output" == *"answers the rest kill"* ]]
	jq -e '.linux.seccomp.defaultAction == "SCMP_ACT_KILL_PROCESS"' "$AUTHORED/kill/config.json"
	# the per-call action survives too
	jq -e '.linux.seccomp.syscalls[] | select(.names | index("mkdir")) | .action == "SCMP_ACT_ERRNO" and .errnoRet == 13' "$AUTHORED/kill/config.json"
	run -0 "$PLUGBOX" --root "$ROOT" seccomp explain "$AUTHORED/kill" getdents64
	[[ "$output" == *"kills the whole plugin"* ]]
	# ls was never traced: getdents64 now kills the plugin (SIGSYS: 128+31)
	jq '.process.args = ["/bin/busybox", "ls", "/"]' "$AUTHORED/kill/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$AUTHORED/kill/config.json"
	run -159 "$PLUGBOX" --root "$ROOT" run --bundle "$AUTHORED/kill" "$(cid killed)"
	# mkdir gets its own action, logged by the monitor
	jq '.process.args = ["/bin/busybox", "mkdir", "/tmp/x"]' "$AUTHORED/kill/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$AUTHORED/kill/config.json"
	run -1 "$PLUGBOX" --root "$ROOT" run --keep --bundle "$AUTHORED/kill" "$(cid eacces)"
	[[ "$output" == *"Permission denied"* ]]
	run -0 "$PLUGBOX" --root "$ROOT" violations --format json "$(cid eacces)"
	echo "$output" | jq -e -s 'map(select(.syscall == "mkdir" and .errno == "EACCES")) | length == 1'
	"$PLUGBOX" --root "$ROOT" delete "$(cid eacces)"
}

@test "trace --merge keeps what an earlier run learned" {
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/one.json" -- /bin/busybox ls /
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("getdents64") != null' "$BATS_TEST_TMPDIR/one.json"
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/two.json" -- /bin/busybox mkdir /tmp/d
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("getdents64") == null' "$BATS_TEST_TMPDIR/two.json"
	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/both.json" --merge "$BATS_TEST_TMPDIR/one.json" --apply -- /bin/busybox mkdir /tmp/d
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | (index("getdents64") != null) and (index("mkdir") != null)' "$BATS_TEST_TMPDIR/both.json"
	# both programs run under the merged profile
	jq '.process.args = ["/bin/busybox", "ls", "/"]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -0 "$PLUGBOX" --root "$ROOT" run --bundle "$BUNDLE" "$(cid ls)"
	[[ "$output" == *"bin"* ]]
	jq '.process.args = ["/bin/busybox", "mkdir", "/tmp/d"]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -0 "$PLUGBOX" --root "$ROOT" run --bundle "$BUNDLE" "$(cid mkdir)"
	run -1 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" --merge "$BATS_TEST_TMPDIR/nope.json"
	[[ "$output" == *"--merge"* ]]
}

@test "trace refuses to learn a call plugbox never grants unless named with --allow-denied, and check flags the result" {
	jq '.process.args = ["/bin/busybox", "unshare", "-U", "true"]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c" && mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -1 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/refused.json" --apply
	[[ "$output" == *"never grants"* ]]
	[[ "$output" == *"unshare: changes mounts or namespaces"* ]]
	[[ "$output" == *"--allow-denied unshare"* ]]
	# the profile is written for review, without it, and not applied
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("unshare") == null' "$BATS_TEST_TMPDIR/refused.json"
	jq -e '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("unshare") == null' "$BUNDLE/config.json"
	run -0 "$PLUGBOX" check "$BUNDLE"

	run -0 "$PLUGBOX" --root "$ROOT" trace --bundle "$BUNDLE" -o "$BATS_TEST_TMPDIR/allowed.json" --allow-denied unshare --apply
	jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("unshare") != null' "$BATS_TEST_TMPDIR/allowed.json"
	run -1 "$PLUGBOX" check "$BUNDLE"
	[[ "$output" == *"HIGH linux.seccomp.syscalls"*"unshare"* ]]
}
