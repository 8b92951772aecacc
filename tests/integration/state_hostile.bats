#!/usr/bin/env bats
# The state plugbox keeps, held against other local users, forged bundles,
# killed commands and concurrent ones. Each test is the attack (or the
# failure) reproduced on 2026-12-01; it passes only if plugbox holds.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "these tests plant directories as other users and allocate host id ranges, which needs root"
	# Bundles the container's root must reach: outside $BATS_TEST_TMPDIR,
	# which only host root may enter.
	SHARED="$(mktemp -d /tmp/plugbox-state.XXXXXX)"
	chmod 755 "$SHARED"
}

teardown() {
	plugbox_teardown
	if [ -n "${SUBID_USER:-}" ]; then
		userdel "$SUBID_USER" 2>/dev/null || true
	fi
	rm -rf "$SHARED"
}

# free_uid prints a uid no account has, starting at $1.
free_uid() {
	local uid=$1
	while getent passwd "$uid" >/dev/null; do uid=$((uid + 1)); done
	echo "$uid"
}

# as_uid UID CMD... runs CMD as UID (no account needed), without
# XDG_RUNTIME_DIR, so plugbox falls back to $TMPDIR/plugbox-UID.
as_uid() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups env -u XDG_RUNTIME_DIR "$@"
}

# authored_bundle DIR ARG... writes an authored bundle around busybox
# running ARG... (the sandbox gets an allocated host id range).
authored_bundle() {
	local dir=$1 args
	shift
	args="$(printf '%s\n' "$@" | jq -R . | jq -sc .)"
	jq -n --argjson cmd "$args" '{name: "state", command: (["/bin/busybox"] + $cmd), syscalls: ["base", "fs-read", "fs-write", "process"]}' >"$dir.json"
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$dir.json" "$dir"
}

# idmap_held ID succeeds if container ID of this test holds a host id range.
idmap_held() {
	grep -qsF "\"owner\":\"$ROOT/$1\"" /run/plugbox-idmap/*.json
}

# host_range ID FILE prints "start size" of what container 0 maps to in the
# init's /proc/PID/FILE (uid_map or gid_map): the kernel's view.
host_range() {
	local _ host size
	read -r _ host size </proc/"$(pid_of "$1")"/"$2"
	echo "$host $size"
}

# no_leak_of ID checks that nothing of container ID remains: state
# directory, cgroups, live processes that name the root (libcontainer's
# init carries _LIBCONTAINER_STATEDIR, the monitor its log path), id range.
no_leak_of() {
	local id=$1 pid bad=0
	if [ -e "$ROOT/$id" ]; then
		echo "state left for $id: $(ls -A "$ROOT/$id")" >&2
		bad=1
	fi
	if [ -n "$(cgroups_of "$id")" ]; then
		echo "cgroups left for $id: $(cgroups_of "$id")" >&2
		bad=1
	fi
	for pid in $(grep -lsF -- "$ROOT/$id" /proc/[0-9]*/environ /proc/[0-9]*/cmdline | cut -d/ -f3 | sort -u); do
		if [ "$pid" != $$ ] && alive "$pid"; then
			echo "process $pid of $id left: $(tr '\0' ' ' </proc/"$pid"/cmdline)" >&2
			bad=1
		fi
	done
	if idmap_held "$id"; then
		echo "host id range of $id not freed" >&2
		bad=1
	fi
	return "$bad"
}

@test "a default state root another user planted is refused, and plugbox uses nothing in it" {
	victim="$(free_uid 61000)"
	mallory="$(free_uid $((victim + 1)))"
	tmp="$SHARED/tmp"
	mkdir -m 1777 "$tmp"
	chmod 1777 "$tmp"
	# Mallory plants the victim's default root, open to her.
	as_uid "$mallory" mkdir -m 777 "$tmp/plugbox-$victim"
	as_uid "$mallory" chmod 777 "$tmp/plugbox-$victim"
	make_bundle "$SHARED/b" true
	for verb in list "state x" "run --detach --bundle $SHARED/b x" "delete --force x"; do
		run -1 as_uid "$victim" TMPDIR="$tmp" "$PLUGBOX" $verb
		error_line "state root $tmp/plugbox-$victim is owned by uid $mallory, not by you (uid $victim)" "remove it"
	done
	[ -z "$(ls -A "$tmp/plugbox-$victim")" ]

	# Planted 0700 by mallory, or the victim's own but open to others:
	# refused too.
	as_uid "$mallory" chmod 700 "$tmp/plugbox-$victim"
	run -1 as_uid "$victim" TMPDIR="$tmp" "$PLUGBOX" list
	error_line "is owned by uid $mallory"
	rm -rf "$tmp/plugbox-$victim"
	as_uid "$victim" mkdir -m 777 "$tmp/plugbox-$victim"
	as_uid "$victim" chmod 777 "$tmp/plugbox-$victim"
	run -1 as_uid "$victim" TMPDIR="$tmp" "$PLUGBOX" list
	error_line "is writable by group or others (mode 0777)" "chmod 700 $tmp/plugbox-$victim"

	# Without a planted directory, the victim's root is made 0700, the
	# victim's own.
	rm -rf "$tmp/plugbox-$victim"
	run -0 as_uid "$victim" TMPDIR="$tmp" "$PLUGBOX" list
	[ "$(stat -c '%a %u' "$tmp/plugbox-$victim")" = "700 $victim" ]
}

@test "a --root below a directory others can write, or own, is refused" {
	mallory="$(free_uid 61000)"
	mkdir -m 777 "$SHARED/open"
	chmod 777 "$SHARED/open"
	run -1 pb --root "$SHARED/open/root" list
	error_line "$SHARED/open is writable by group or others (mode 0777) without the sticky bit"
	[ ! -e "$SHARED/open/root" ]
	mkdir "$SHARED/theirs"
	chown "$mallory" "$SHARED/theirs"
	run -1 "$PLUGBOX" --root "$SHARED/theirs/root" list
	error_line "$SHARED/theirs is owned by uid $mallory, who could replace the state directory"
	[ ! -e "$SHARED/theirs/root" ]
	# A container directory swapped in by someone else is not trusted.
	make_bundle "$BUNDLE" sleep 1000
	id="$(cid swapped)"
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	mv "$ROOT/$id" "$SHARED/orig"
	mkdir -m 777 "$ROOT/$id"
	chmod 777 "$ROOT/$id"
	run -1 pb delete --force "$id"
	error_line "$ROOT/$id is writable by group or others" "not made by plugbox"
	rmdir "$ROOT/$id"
	mv "$SHARED/orig" "$ROOT/$id"
	run -0 pb delete --force "$id"
}

@test "a config.json cannot forge what state reports as enforced" {
	make_bundle "$BUNDLE" sleep 1000
	jq_config "$BUNDLE" '.annotations["org.plugbox.enforced.landlock"] = "abi 99"'
	id="$(cid forged)"
	run -1 pb_bg create --bundle "$BUNDLE" "$id"
	error_line 'annotations["org.plugbox.enforced.landlock"]' "remove it from config.json"
	run -1 pb state "$id"
	root_empty
	# A misspelled plugbox layer is refused too, not silently skipped.
	jq_config "$BUNDLE" 'del(.annotations["org.plugbox.enforced.landlock"]) | .annotations["org.plugbox.landlok"] = "{}"'
	run -1 pb_bg create --bundle "$BUNDLE" "$id"
	error_line 'annotations["org.plugbox.landlok"]' "unknown plugbox annotation"
	# Without them, state reports only what plugbox put there.
	jq_config "$BUNDLE" 'del(.annotations["org.plugbox.landlok"])'
	run -0 pb_bg create --bundle "$BUNDLE" "$id"
	run -0 pb state "$id"
	[ "$(jq -r '.annotations["org.plugbox.enforced.landlock"]' <<<"$output")" = null ]
	[ "$(jq -r '.annotations["org.plugbox.enforced.seccomp"]' <<<"$output")" = none ]
}

@test "IDs up to 255 bytes work; longer ones are refused in one short line" {
	make_bundle "$BUNDLE" sleep 1000
	long="$(head -c 255 /dev/zero | tr '\0' a)"
	# (not pb_bg: its output file would be named after the ID)
	pb run --detach --bundle "$BUNDLE" "$long" </dev/null >/dev/null 2>&1 3>&-
	[ "$(status_of "$long")" = running ]
	run -0 pb delete --force "$long"
	for n in 256 1000; do
		too_long="$(head -c "$n" /dev/zero | tr '\0' b)"
		run -1 pb create --bundle "$BUNDLE" "$too_long" </dev/null 3>&-
		error_line "($n bytes): at most 255 bytes"
		[ "${#output}" -lt 200 ]
		run -1 pb delete --force "$too_long"
		error_line "at most 255 bytes"
	done
	root_empty
}

@test "SIGKILL of create or run at any point leaves an ID that delete removes and create reuses" {
	make_bundle "$BUNDLE" sleep 1000
	plain_run="$BATS_TEST_TMPDIR/true"
	make_bundle "$plain_run" true
	authored_bundle "$SHARED/auth" sleep 1000
	interrupted=0
	for i in $(seq 30); do
		id="$(cid k$i)"
		case $((i % 3)) in
		0) verb=(create --bundle "$BUNDLE") ;;
		1) verb=(run --bundle "$plain_run") ;;
		2) verb=(create --bundle "$SHARED/auth") ;;
		esac
		"$PLUGBOX" --root "$ROOT" "${verb[@]}" "$id" </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		sleep "0.0$((RANDOM % 7))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true

		# list and state tell the truth: no "does not exist" for an ID
		# that list shows, and an interrupted create says so.
		run -0 pb list --format json
		listed="$(jq -r --arg id "$id" '.[] | select(.id == $id) | .status' <<<"$output")"
		if [ -n "$listed" ]; then
			run -0 pb state "$id"
			status="$(jq -r .status <<<"$output")"
			[[ "$status" =~ ^(created|running|stopped)$ ]]
			if [ -z "$(jq -r '.annotations["org.plugbox.incomplete"] // empty' <<<"$output")" ]; then :; else
				interrupted=$((interrupted + 1))
				[ "$status" = stopped ]
			fi
			# Alternate delete with and without --force: both remove it
			# (a run killed after start may leave `true` running a moment).
			if [ $((i % 2)) = 0 ] && [ "$status" != running ]; then
				run -0 pb delete "$id"
			else
				run -0 pb delete --force "$id"
			fi
		else
			run -1 pb state "$id"
			error_line "does not exist"
			run -0 pb delete --force "$id"
		fi
		no_leak_of "$id"
		# The ID is free again.
		run -0 pb_bg "${verb[0]}" "${verb[@]:1}" "$id"
		run -0 pb delete --force "$id"
		no_leak_of "$id"
	done
	# The kills must have hit creates mid-way, or this proved nothing.
	echo "interrupted creates: $interrupted of 30" >&3
	[ "$interrupted" -ge 3 ]
}

@test "racing delete --force calls of one container all succeed" {
	make_bundle "$BUNDLE" sleep 1000
	for round in $(seq 8); do
		id="$(cid race$round)"
		run -0 pb_bg run --detach --bundle "$BUNDLE" "$id"
		pids=()
		for i in $(seq 10); do
			"$PLUGBOX" --root "$ROOT" delete --force "$id" 2>"$BATS_TEST_TMPDIR/del$i.err" &
			pids+=($!)
		done
		for i in "${!pids[@]}"; do
			if ! wait "${pids[$i]}"; then
				echo "round $round: delete --force $((i + 1)) failed: $(cat "$BATS_TEST_TMPDIR/del$((i + 1)).err")" >&2
				return 1
			fi
		done
		no_leak_of "$id"
	done
}

@test "one slow create does not hold up another ID's create, and state reports it as creating" {
	make_bundle "$BUNDLE" sleep 1000
	slow="$BATS_TEST_TMPDIR/slow"
	make_bundle "$slow" sleep 1000
	a="$(cid slow)"
	b="$(cid quick)"
	seen="$BATS_TEST_TMPDIR/seen"
	# A createRuntime hook runs while the create of $a holds its lock; it
	# asks for $a's state (which must not wait for that lock), then stalls.
	jq_config "$slow" --arg cmd "'$PLUGBOX' --root '$ROOT' state '$a' >'$seen' 2>&1; sleep 4" \
		'.hooks = {createRuntime: [{path: "/bin/sh", args: ["sh", "-c", $cmd]}]}'
	"$PLUGBOX" --root "$ROOT" create --bundle "$slow" "$a" </dev/null >/dev/null 2>&1 3>&- &
	slow_pid=$!
	for _ in $(seq 50); do
		[ -s "$seen" ] && break
		sleep 0.1
	done
	[ "$(jq -r .status "$seen")" = creating ]
	[ "$(status_of "$a")" = creating ]
	start=$(date +%s%N)
	run -0 pb_bg create --bundle "$BUNDLE" "$b"
	took=$((($(date +%s%N) - start) / 1000000))
	echo "create of $b took ${took}ms while $a was being created" >&3
	# $b is done while $a is still being created: nothing serialised them.
	[ "$(status_of "$a")" = creating ]
	[ "$(status_of "$b")" = created ]
	wait "$slow_pid"
	[ "$(status_of "$a")" = created ]
}

@test "each sandbox gets host ids of its own, which no login user owns, freed at delete" {
	# A login user whose subordinate ids are the ones plugbox used for
	# every sandbox before (100000+), plus the start of plugbox's range.
	SUBID_USER="pbsubid$$"
	pool="$(awk -F: '$1 == "plugbox" { print $2; exit }' /etc/subuid 2>/dev/null)"
	pool="${pool:-1879048192}"
	useradd --no-create-home --shell /usr/sbin/nologin "$SUBID_USER"
	usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \
		--add-subuids "$pool-$((pool + 131071))" --add-subgids "$pool-$((pool + 131071))" "$SUBID_USER"
	user_ranges="$(awk -F: -v u="$SUBID_USER" '$1 == u { print $2, $3 }' /etc/subuid)"
	[ -n "$user_ranges" ]

	out="$SHARED/out"
	mkdir "$out"
	chown 1000:1000 "$out"
	jq -n --arg out "$out" '{name: "ids", command: ["/bin/busybox", "sh", "-c", "echo data > \($out)/f-$(cat /proc/sys/kernel/random/uuid); exec sleep 1000"],
		syscalls: ["base", "fs-read", "fs-write", "process"], write: [$out]}' >"$SHARED/ids.json"
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$SHARED/ids.json" "$SHARED/ids"

	a="$(cid a)"
	b="$(cid b)"
	pb_bg run --detach --bundle "$SHARED/ids" "$a" &
	pa=$!
	pb_bg run --detach --bundle "$SHARED/ids" "$b" &
	wait $pa $!
	for id in "$a" "$b"; do
		wait_status "$id" running
	done
	read -r a_start a_size <<<"$(host_range "$a" uid_map)"
	read -r b_start b_size <<<"$(host_range "$b" uid_map)"
	echo "host uids: $a $a_start+$a_size, $b $b_start+$b_size; $SUBID_USER holds: $user_ranges" >&3
	# Disjoint from each other and from every range the user holds.
	[ $((a_start + a_size)) -le "$b_start" ] || [ $((b_start + b_size)) -le "$a_start" ]
	while read -r u_start u_size; do
		for s in "$a_start" "$b_start"; do
			[ $((s + 65536)) -le "$u_start" ] || [ $((u_start + u_size)) -le "$s" ]
		done
	done <<<"$user_ranges"
	for id in "$a" "$b"; do
		[ "$(host_range "$id" uid_map)" = "$(host_range "$id" gid_map)" ]
		# state says what the kernel has.
		read -r start size <<<"$(host_range "$id" uid_map)"
		[ "$(pb state "$id" | jq -r '.annotations["org.plugbox.enforced.idmap"]')" = "uid 0:$start:$size gid 0:$start:$size" ]
	done
	[ "$a_size" = 65536 ] && [ "$b_size" = 65536 ]
	# The bundle asked for this; it fixes no range itself.
	[ "$(jq -r '.annotations["org.plugbox.idmap"]' "$SHARED/ids/config.json")" = auto ]
	[ "$(jq -r '.linux.uidMappings // [] | length' "$SHARED/ids/config.json")" = 0 ]
	# What the plugins wrote is stored as the manifest's uid, not as a
	# sandbox's host id: nothing on disk outlives a range.
	for _ in $(seq 50); do
		[ "$(ls "$out" | wc -l)" = 2 ] && break
		sleep 0.1
	done
	[ "$(stat -c %u "$out"/f-* | sort -u)" = 1000 ]

	idmap_held "$a"
	run -0 pb delete --force "$a"
	no_leak_of "$a"
	idmap_held "$b"
	run -0 pb delete --force "$b"
	no_leak_of "$b"
}

@test "an allocated range needs root and a fresh user namespace; the error names the fix" {
	authored_bundle "$SHARED/auth" true
	id="$(cid bad)"
	jq '.linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' "$SHARED/auth/config.json" >"$SHARED/c"
	mv "$SHARED/c" "$SHARED/auth/config.json"
	run -1 pb_bg create --bundle "$SHARED/auth" "$id"
	error_line 'annotations["org.plugbox.idmap"]' "linux.uidMappings or gidMappings are set"
	root_empty
}
