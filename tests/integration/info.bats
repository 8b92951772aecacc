#!/usr/bin/env bats
# The read-only verbs: list (table, json, quiet), features, --version, spec.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

@test "list of an empty root" {
	run -0 pb list
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	run -0 pb list --format json
	[ "$(jq -c . <<<"$output")" = "[]" ]
	run -0 pb list --quiet
	[ "$output" = "" ]
}

@test "list shows created, running and stopped containers in every format" {
	make_bundle "$BUNDLE" sleep 1000
	created="$(cid a-created)"
	running="$(cid b-running)"
	stopped="$(cid c-stopped)"
	run -0 pb_bg create --bundle "$BUNDLE" "$created"
	run -0 pb_bg run --detach --bundle "$BUNDLE" "$running"
	set_args "$BUNDLE" true
	run -0 pb run --keep --bundle "$BUNDLE" "$stopped"
	cpid="$(pid_of "$created")"
	rpid="$(pid_of "$running")"

	run -0 pb list --quiet
	[ "$output" = "$created
$running
$stopped" ]

	run -0 pb list --format json
	[ "$(jq length <<<"$output")" -eq 3 ]
	[ "$(jq -r --arg id "$created" '.[] | select(.id == $id) | "\(.status) \(.pid) \(.bundle)"' <<<"$output")" = "created $cpid $BUNDLE" ]
	[ "$(jq -r --arg id "$running" '.[] | select(.id == $id) | "\(.status) \(.pid) \(.bundle)"' <<<"$output")" = "running $rpid $BUNDLE" ]
	[ "$(jq -r --arg id "$stopped" '.[] | select(.id == $id) | .status' <<<"$output")" = stopped ]

	run -0 pb list
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	[[ "${lines[1]}" =~ ^"$created"\ +"$cpid"\ +created\ +"$BUNDLE"\ +[0-9T:.Z-]+\ +root$ ]]
	[[ "${lines[2]}" =~ ^"$running"\ +"$rpid"\ +running\ +"$BUNDLE"\ +[0-9T:.Z-]+\ +root$ ]]
	[[ "${lines[3]}" =~ ^"$stopped"\ +0\ +stopped\ +"$BUNDLE"\ +[0-9T:.Z-]+\ +root$ ]]
}

@test "list --format bogus fails" {
	run -1 pb list --format bogus
	error_line '"bogus"' "table or json"
}

@test "list only shows the containers of its --root" {
	make_bundle "$BUNDLE" true
	run -0 pb run --keep --bundle "$BUNDLE" "$(cid mine)"
	run -0 "$PLUGBOX" --root "$BATS_TEST_TMPDIR/other-root" list --quiet
	[ "$output" = "" ]
	rmdir "$BATS_TEST_TMPDIR/other-root"
}

@test "features prints JSON with the supported OCI versions" {
	run -0 pb features
	jq -e . <<<"$output" >/dev/null
	max="$(jq -r .ociVersionMax <<<"$output")"
	min="$(jq -r .ociVersionMin <<<"$output")"
	[[ "$max" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[[ "$min" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[ "$(printf '%s\n' "$min" "$max" | sort -V | head -n 1)" = "$min" ]
	# The state of a container reports the version plugbox implements.
	make_bundle "$BUNDLE" true
	run -0 pb run --keep --bundle "$BUNDLE" "$(cid v)"
	run -0 pb state "$(cid v)"
	[ "$(jq -r .ociVersion <<<"$output")" = "$max" ]
}

@test "--version prints the version" {
	run -0 "$PLUGBOX" --version
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^plugbox\ version\ [^[:space:]]+$ ]]
}

@test "spec writes a config.json for a terminal shell over rootfs" {
	mkdir -p "$BUNDLE"
	run -0 pb spec --bundle "$BUNDLE"
	c="$BUNDLE/config.json"
	jq -e . "$c" >/dev/null
	[[ "$(jq -r .ociVersion "$c")" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[ "$(jq -r .root.path "$c")" = rootfs ]
	[ "$(jq -c .process.args "$c")" = '["sh"]' ]
	[ "$(jq -r .process.terminal "$c")" = true ]
	[ "$(jq '[.linux.namespaces[].type] | index("user")' "$c")" = null ]
	[ "$(jq '[.linux.namespaces[].type] | index("pid")' "$c")" != null ]
}

@test "spec --rootless adds a user namespace mapping the caller to root" {
	mkdir -p "$BUNDLE"
	run -0 pb spec --rootless --bundle "$BUNDLE"
	c="$BUNDLE/config.json"
	[ "$(jq '[.linux.namespaces[].type] | index("user")' "$c")" != null ]
	[ "$(jq -c '.linux.uidMappings' "$c")" = "[{\"containerID\":0,\"hostID\":$(id -u),\"size\":1}]" ]
	[ "$(jq -c '.linux.gidMappings' "$c")" = "[{\"containerID\":0,\"hostID\":$(id -g),\"size\":1}]" ]
}
