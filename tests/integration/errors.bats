#!/usr/bin/env bats
# Error paths: each fails with status 1 and one line "plugbox: ..." naming
# the thing at fault, and leaves nothing behind (the teardown checks state,
# cgroups, processes and mounts).

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

@test "create: a missing bundle directory" {
	run -1 pb create --bundle "$BATS_TEST_TMPDIR/nowhere" "$(cid x)"
	error_line "bundle $BATS_TEST_TMPDIR/nowhere does not exist"
	root_empty
}

@test "run: a bundle without config.json" {
	mkdir -p "$BUNDLE"
	make_rootfs "$BUNDLE/rootfs"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json not found"
	root_empty
}

@test "run: malformed JSON is reported with its line and column" {
	make_bundle "$BUNDLE" true
	# The stray comma is line 3, column 15.
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n' >"$BUNDLE/config.json"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json:3:15: malformed JSON"
	root_empty
}

@test "run: truncated JSON" {
	make_bundle "$BUNDLE" true
	head -c 40 "$BUNDLE/config.json" >"$BUNDLE/truncated"
	mv "$BUNDLE/truncated" "$BUNDLE/config.json"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json" "malformed JSON" "end of file"
}

@test "run: a field of the wrong type is named with its line" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.terminal = "yes"'
	line="$(grep -n '"terminal"' "$BUNDLE/config.json" | cut -d: -f1)"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json:$line:" 'field "process.terminal" must be bool'
	root_empty
}

@test "run: an unknown property is ignored (OCI: runtimes MUST ignore them); check names it" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.noNewPrivilege = true | .vendorExtension = {"x": 1}'
	run -0 pb run --bundle "$BUNDLE" "$(cid x)"
	run -1 "$PLUGBOX" check "$BUNDLE"
	[[ "$output" == *"LOW process.noNewPrivilege: not a property of the OCI runtime spec"* ]]
	[[ "$output" == *"LOW vendorExtension: not a property"* ]]
}

@test "run: an empty config.json is named, not a bare EOF" {
	make_bundle "$BUNDLE" true
	: >"$BUNDLE/config.json"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json is empty"
	root_empty
}

@test "create: a NUL byte in process.args is refused at create, naming the field" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.args = ["/bin/echo", "a\u0000b"]'
	run -1 pb_bg create --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json" 'process.args[1]' 'NUL'
	root_empty
}

@test "create: a bad org.plugbox.timeout annotation is refused at create" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.annotations["org.plugbox.timeout"] = "abc"'
	run -1 pb_bg create --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/config.json" 'org.plugbox.timeout' '"abc"'
	root_empty
}

@test "run: a missing rootfs" {
	make_bundle "$BUNDLE" true
	rm -rf "$BUNDLE/rootfs"
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line "$BUNDLE/rootfs does not exist"
	root_empty
}

@test "run: empty process.args" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.args = []'
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line 'process.args'
	root_empty
}

@test "run: process.args[0] that is not in the rootfs" {
	make_bundle "$BUNDLE" /no/such/program
	run -1 pb run --bundle "$BUNDLE" "$(cid x)"
	error_line '"/no/such/program"' "no such file or directory"
	root_empty
}

@test "create: process.args[0] that is not in the rootfs's PATH" {
	make_bundle "$BUNDLE" nosuchprogram
	run -1 pb create --bundle "$BUNDLE" "$(cid x)"
	error_line '"nosuchprogram"' 'not found in $PATH'
	root_empty
}

@test "create: process.terminal true without --console-socket" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.terminal = true'
	run -1 pb create --bundle "$BUNDLE" "$(cid x)"
	error_line "--console-socket"
	root_empty
}

@test "state, start, kill and delete of an unknown ID" {
	id="$(cid unknown)"
	for verb in state start kill delete; do
		run -1 pb "$verb" "$id"
		error_line "container \"$id\"" "does not exist"
	done
	root_empty
}

@test "a verb without an ID says how to use it" {
	for verb in create run state start kill delete ps; do
		run -1 pb "$verb"
		error_line "$verb: missing container ID" "usage: plugbox $verb"
	done
}

@test "invalid container IDs are refused before anything is created" {
	make_bundle "$BUNDLE" true
	for id in a/b .. . "" "../escape" "a b" "$(printf 'x%.0s' $(seq 1025))"; do
		run -1 pb create --bundle "$BUNDLE" "$id"
		error_line "invalid container ID"
		run -1 pb run --bundle "$BUNDLE" "$id"
		error_line "invalid container ID"
		run -1 pb state "$id"
		error_line "invalid container ID"
	done
	root_empty
	[ ! -e "$BATS_TEST_TMPDIR/escape" ]
}

@test "spec refuses to overwrite config.json" {
	mkdir -p "$BUNDLE"
	run -0 pb spec --bundle "$BUNDLE"
	[ "$output" = "" ]
	echo '{"mine": true}' >"$BUNDLE/config.json"
	run -1 pb spec --bundle "$BUNDLE"
	error_line "config.json already exists"
	[ "$(cat "$BUNDLE/config.json")" = '{"mine": true}' ]
	cd "$BUNDLE"
	run -1 pb spec
	error_line "config.json already exists"
	[ "$(cat "$BUNDLE/config.json")" = '{"mine": true}' ]
}

@test "--log-format bogus is refused with one line" {
	run -1 pb --log-format bogus list
	error_line '"bogus"' "text or json"
}

@test "--log FILE --log-format json writes the error as JSON lines" {
	log="$BATS_TEST_TMPDIR/plugbox.log"
	id="$(cid unknown)"
	run -1 pb --log "$log" --log-format json state "$id"
	# The user still gets the one line on stderr ...
	error_line "container \"$id\"" "does not exist"
	# ... and containerd gets every log entry as one JSON object per line.
	[ -s "$log" ]
	while IFS= read -r line; do
		jq -e 'type == "object" and has("msg") and has("level") and has("time")' <<<"$line"
	done <"$log"
	last="$(tail -n 1 "$log")"
	[ "$(jq -r .level <<<"$last")" = error ]
	[[ "$(jq -r .msg <<<"$last")" == *"container \"$id\""*"does not exist"* ]]
}

@test "--log FILE --log-format json records a failed create" {
	log="$BATS_TEST_TMPDIR/plugbox.log"
	make_bundle "$BUNDLE" /no/such/program
	run -1 pb --log "$log" --log-format json run --bundle "$BUNDLE" "$(cid x)"
	error_line '"/no/such/program"'
	last="$(tail -n 1 "$log")"
	[ "$(jq -r .level <<<"$last")" = error ]
	[[ "$(jq -r .msg <<<"$last")" == *'"/no/such/program"'* ]]
	root_empty
}

@test "--log FILE in a missing directory is refused" {
	run -1 pb --log "$BATS_TEST_TMPDIR/no/dir/log" list
	error_line "--log $BATS_TEST_TMPDIR/no/dir/log"
}

@test "an unknown verb fails" {
	run -1 pb frobnicate
	[[ "$output" == *frobnicate* ]]
}
