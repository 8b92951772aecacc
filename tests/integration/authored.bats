#!/usr/bin/env bats
# Which loader applies a bundle's seccomp profile, and that every kind of
# profile lets the plugin start: plugbox-authored profiles without Landlock
# or the monitor, and foreign profiles (Docker's) naming calls newer than
# libseccomp.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+, which needs root"
	AUTHORED=$(mktemp -d /tmp/plugbox-authored.XXXXXX)
	chmod 755 "$AUTHORED"
}

teardown() {
	plugbox_teardown
	rm -rf "$AUTHORED"
}

@test "an authored bundle without Landlock or monitor starts, its filter loaded by the exec shim" {
	# Its profile has no open-for-write: had libcontainer loaded it, its own
	# exec fifo handshake would have been refused.
	cat > "$AUTHORED/plugin.json" <<-JSON
	{"name": "kill", "command": ["/bin/jq", "-n", "[1, 2] | add"],
	 "landlock": "off", "onViolation": "kill"}
	JSON
	"$PLUGBOX" bundle init --exec /usr/bin/jq --manifest "$AUTHORED/plugin.json" "$AUTHORED/b"
	jq -e '.annotations["org.plugbox.landlock"] == null and .annotations["org.plugbox.monitor"] == null' "$AUTHORED/b/config.json"
	run -0 pb run --keep --bundle "$AUTHORED/b" "$(cid k)"
	[ "$output" = 3 ]
	run -0 pb state "$(cid k)"
	[ "$(jq -r '.annotations["org.plugbox.enforced.seccomp"]' <<<"$output")" = shim ]
	[ "$(jq -r '.annotations["org.plugbox.enforced.seccomp-default"]' <<<"$output")" = SCMP_ACT_KILL_PROCESS ]
	[ "$(jq -r '.annotations["org.plugbox.enforced.limits"]' <<<"$output")" = "memory=256M pids=64 cpus=1.00" ]
	run -0 pb delete "$(cid k)"
}

@test "a runc bundle with a profile of Docker's shape and size runs; seccomp is in force" {
	profile="$BATS_TEST_DIRNAME/testdata/reference-seccomp.json"
	make_bundle "$BUNDLE" sh -c 'grep Seccomp: /proc/self/status'
	jq --slurpfile sc "$profile" '.process.noNewPrivileges = true | .linux.seccomp = $sc[0]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c"
	mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -0 pb run --bundle "$BUNDLE" "$(cid docker)"
	[[ "$output" == *"Seccomp:"*"2"* ]]
}

@test "a plugin bundle takes exactly the descriptors its manifest names, and no directory" {
	echo input-data > "$AUTHORED/input.txt"
	cat > "$AUTHORED/plugin.json" <<-JSON
	{"name": "fds", "command": ["/bin/busybox", "sh", "-c", "echo \$LISTEN_FDS \$LISTEN_FDNAMES; cat <&3"],
	 "syscalls": ["base", "fs-read", "process"], "fds": ["input"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$AUTHORED/plugin.json" "$AUTHORED/b"
	run -0 pb run --preserve-fds 1 --bundle "$AUTHORED/b" "$(cid ok)" 3<"$AUTHORED/input.txt"
	[[ "$output" == *"1 input"*"input-data"* ]]
	# a count other than the manifest's
	run -1 pb run --bundle "$AUTHORED/b" "$(cid none)"
	[[ "$output" == *"--preserve-fds 0: the bundle's config.json expects 1 descriptor"* ]]
	# a directory descriptor would reach outside the sandbox's mounts
	run -1 pb run --preserve-fds 1 --bundle "$AUTHORED/b" "$(cid dir)" 3</etc
	[[ "$output" == *"descriptor 3 is a directory or O_PATH descriptor"* ]]
	[ -z "$(pb list -q)" ]
}

@test "check flags runc's default spec and passes an authored bundle" {
	make_bundle "$BUNDLE" true
	run -1 "$PLUGBOX" check "$BUNDLE"
	[[ "$output" == *"HIGH linux.seccomp"* ]]
	"$PLUGBOX" bundle init --exec /usr/bin/jq "$AUTHORED/b"
	run -0 "$PLUGBOX" check "$AUTHORED/b"
	[ "$output" = "no weaknesses found" ]
}

@test "seccomp explain and export describe an authored bundle's filter" {
	"$PLUGBOX" bundle init --exec /usr/bin/jq "$AUTHORED/b"
	run -0 "$PLUGBOX" seccomp explain "$AUTHORED/b" ptrace
	[[ "$output" == *"ptrace"*"EPERM"* ]]
	run -0 "$PLUGBOX" seccomp explain "$AUTHORED/b" getpid
	[[ "$output" == *"allow"* || "$output" == *"ALLOW"* ]]
	run -1 "$PLUGBOX" seccomp explain "$AUTHORED/b" no_such_call
	run -0 "$PLUGBOX" seccomp export --format pfc "$AUTHORED/b"
	[[ "$output" == *"x86_64"* ]]
	"$PLUGBOX" seccomp export --format bpf -o "$AUTHORED/filter.bpf" "$AUTHORED/b"
	# a BPF program is a whole number of 8-byte instructions
	size=$(stat -c %s "$AUTHORED/filter.bpf")
	[ "$size" -gt 0 ] && [ $((size % 8)) -eq 0 ]
}

@test "violations --follow prints denials as they happen and ends with the container" {
	cat > "$AUTHORED/plugin.json" <<-JSON
	{"name": "follow", "command": ["/bin/busybox", "sh", "-c", "busybox unshare -U true; sleep 1; busybox mount -t tmpfs x /tmp; true"],
	 "syscalls": ["base", "fs-read", "process"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$AUTHORED/plugin.json" "$AUTHORED/b"
	id="$(cid follow)"
	run -0 pb run --detach --bundle "$AUTHORED/b" "$id" </dev/null >/dev/null 2>&1
	run -0 timeout 20 "$PLUGBOX" --root "$ROOT" violations --follow "$id"
	# the text form names the flags: unshare(CLONE_NEWUSER, ...)
	[[ "$output" == *" unshare(CLONE_NEWUSER, "*" mount("* ]]
	run -0 pb delete "$id"
}
