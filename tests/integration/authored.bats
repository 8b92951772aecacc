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
	run -0 pb delete "$(cid k)"
}

@test "a runc bundle with Docker's default profile runs; seccomp is in force" {
	profile="$BATS_TEST_DIRNAME/../../../shared/bench/docker-default-seccomp.oci.json"
	[ -f "$profile" ] || skip "Docker-style profile not found at $profile (shared/ must sit beside the checkout)"
	make_bundle "$BUNDLE" sh -c 'grep Seccomp: /proc/self/status'
	jq --slurpfile sc "$profile" '.process.noNewPrivileges = true | .linux.seccomp = $sc[0]' "$BUNDLE/config.json" > "$BATS_TEST_TMPDIR/c"
	mv "$BATS_TEST_TMPDIR/c" "$BUNDLE/config.json"
	run -0 pb run --bundle "$BUNDLE" "$(cid docker)"
	[[ "$output" == *"Seccomp:"*"2"* ]]
}
