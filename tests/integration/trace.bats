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
	[[ "$output" == *"learned groups [base fs-read]"* ]]
	# it says what it is doing, and when it is done
	[[ "${lines[0]}" == "plugbox: trace: running /bin/busybox cat /etc/passwd as container trace-"*" under the learning filter"* ]]
	[ "${lines[-1]}" = "plugbox: trace: done: wrote the learned linux.seccomp profile to $BATS_TEST_TMPDIR/learned.json and applied it to $BUNDLE/config.json" ]
	jq -e '.defaultAction == "SCMP_ACT_ERRNO"' "$BATS_TEST_TMPDIR/learned.json"
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
