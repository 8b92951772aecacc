#!/usr/bin/env bats
# OCI hooks at the points of the runtime-spec's lifecycle (runtime.md):
# prestart during create with the state "created", poststart in start once
# the program is executed, poststop in delete after the container is gone,
# and what a failing poststart or poststop hook does.

load helpers

setup() {
	plugbox_setup
	HOOKS="$BATS_TEST_TMPDIR/hooks"
	mkdir -p "$HOOKS"
}

teardown() {
	plugbox_teardown
}

# recorder NAME prints a hook that saves the state it is given as
# $HOOKS/NAME.json and what the container's process executes then as
# $HOOKS/NAME.exe.
recorder() {
	jq -n --arg f "$HOOKS/$1" '{path: "/bin/sh", args: ["sh", "-c",
		"cat > \($f).json; readlink /proc/$(jq -r .pid \($f).json)/exe > \($f).exe || true"]}'
}

# failing prints a hook that exits 3.
failing() {
	jq -n '{path: "/bin/sh", args: ["sh", "-c", "exit 3"]}'
}

@test "prestart hooks run during create and get the state created" {
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" --argjson h "$(recorder prestart)" '.hooks.prestart = [$h]'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid pre)"
	run -0 jq -r '.status + " " + (.pid | tostring) + " " + .id' "$HOOKS/prestart.json"
	[ "$output" = "created $(pid_of "$(cid pre)") $(cid pre)" ]
}

@test "poststart hooks run in start, once the program is executed, with the state running" {
	make_bundle "$BUNDLE" sh -c 'echo program >>/out; exec sleep 30'
	jq_config "$BUNDLE" --argjson h "$(recorder poststart)" --arg out "$BUNDLE/rootfs/out" \
		'.root.readonly = false | .hooks.poststart = [$h, {path: "/bin/sh", args: ["sh", "-c", "echo hook >>\($out)"]}]'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid post)"
	# Not during create: the program has not run yet.
	[ ! -e "$HOOKS/poststart.json" ]
	run -0 pb start "$(cid post)"
	# Before start returned, and after the execve of the program (busybox),
	# not while plugbox or its exec shim was still setting up; once it got
	# going (it wrote its line and went to sleep), not racing it.
	run -0 jq -r .status "$HOOKS/poststart.json"
	[ "$output" = running ]
	run -0 cat "$HOOKS/poststart.exe"
	[[ "$output" == */bin/busybox ]]
	run -0 cat "$BUNDLE/rootfs/out"
	[ "$output" = $'program\nhook' ]
}

@test "a failing poststart hook: a warning under ociVersion 1.0.2, an error that stops the container from 1.3.0" {
	make_bundle "$BUNDLE" sleep 30
	jq_config "$BUNDLE" --argjson bad "$(failing)" --argjson h "$(recorder after)" \
		'.ociVersion = "1.0.2" | .hooks.poststart = [$bad, $h]'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid warn)"
	run -0 pb start "$(cid warn)"
	[[ "$output" == *warning*"poststart hook #0"*"exit status 3"* ]]
	[ -e "$HOOKS/after.json" ] # the next hook still ran
	[ "$(status_of "$(cid warn)")" = running ]

	rm -f "$HOOKS/after.json"
	jq_config "$BUNDLE" '.ociVersion = "1.3.0"'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid stop)"
	run -1 pb start "$(cid stop)"
	error_line "poststart hook #0" "exit status 3"
	[ ! -e "$HOOKS/after.json" ]
	wait_status "$(cid stop)" stopped
}

@test "poststop hooks run once delete has destroyed the container; a failing one is a warning and the others run" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" --argjson bad "$(failing)" --argjson h "$(recorder poststop)" '.hooks.poststop = [$bad, $h]'
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid stop)"
	run -0 pb start "$(cid stop)"
	wait_status "$(cid stop)" stopped
	run -0 pb delete "$(cid stop)"
	[[ "$output" == *warning*"poststop hook #0"*"exit status 3"* ]]
	run -0 jq -r '.status + " " + .id' "$HOOKS/poststop.json"
	[ "$output" = "stopped $(cid stop)" ]
	run -1 pb state "$(cid stop)"
}
