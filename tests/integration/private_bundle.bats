#!/usr/bin/env bats
# A bundle below a directory only its owner may enter (mktemp -d, /root, a
# private home) runs: as root, plugbox binds the rootfs where the
# container's root (host uid 100000+) can reach it, in a mount namespace
# only the starting container sees; rootless, the container's root is the
# owner. Nothing of that is left behind, even by a killed create.

load helpers

ROOTLESS_USER="${PLUGBOX_ROOTLESS_USER:-plugbox-test}"

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles as root map the sandbox to host uid 100000+, and the rootless case needs root to set up its user"
	PRIVATE="$BATS_TEST_TMPDIR/private"
	mkdir -m 0700 "$PRIVATE"
}

teardown() {
	plugbox_teardown
	if [ -n "${RDIR:-}" ]; then
		rm -rf "$RDIR"
	fi
	remove_delegated_cgroup
}

# views_of PID lists the rootfs mount points a create with that pid holds.
views_of() {
	ls /run/plugbox-rootfs 2>/dev/null | grep "^$1\." || true
}

@test "root: an authored bundle in a 0700 directory runs, exec works, and no mount is left on the host" {
	cat >"$PRIVATE/plugin.json" <<-JSON
	{"name": "private", "command": ["/bin/busybox", "sh", "-c", "echo started as \$(id -u); sleep 100"],
	 "syscalls": ["base", "fs-read", "process"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$PRIVATE/plugin.json" "$PRIVATE/b"
	[ "$(stat -c %a "$PRIVATE")" = 700 ]
	# root gives the sandbox a host id range of its own: its root is no uid
	# that owns anything here
	[ "$(jq -r '.annotations["org.plugbox.idmap"]' "$PRIVATE/b/config.json")" = auto ]
	id="$(cid private)"
	run -0 pb_bg run --detach --bundle "$PRIVATE/b" "$id"
	wait_file_line "$(ctr_out "$id")" "started as 1000"
	host_uid="$(stat -c %u "/proc/$(pid_of "$id")")"
	[ "$host_uid" -gt 65536 ]
	# The host's mount table never held the view, and its mount point is
	# gone once the container started.
	run -1 grep -F -e "$PRIVATE/b/rootfs" -e /run/plugbox-rootfs /proc/self/mountinfo
	[ -z "$(ls -A /run/plugbox-rootfs)" ]
	run -0 pb state "$id"
	[ "$(jq -r .rootfs <<<"$output")" = "$PRIVATE/b/rootfs" ]
	# exec starts in the bundle's own rootfs path, recorded after the view.
	run -0 pb exec "$id" /bin/busybox cat /etc/passwd
	[[ "$output" == *"private:x:1000:1000"* ]]
	run -0 pb delete --force "$id"
	# and a foreground run, from the same private directory
	cat >"$PRIVATE/plugin.json" <<-JSON
	{"name": "private", "command": ["/bin/busybox", "echo", "hello from a private directory"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$PRIVATE/plugin.json" "$PRIVATE/fg"
	run -0 pb run --bundle "$PRIVATE/fg" "$(cid fg)"
	[ "${lines[0]}" = "hello from a private directory" ]
}

@test "root: a create killed while the rootfs view is up leaves no mount, and the next create removes its mount point" {
	cat >"$PRIVATE/plugin.json" <<-JSON
	{"name": "private", "command": ["/bin/busybox", "true"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$PRIVATE/plugin.json" "$PRIVATE/b"
	cp -a "$PRIVATE/b" "$PRIVATE/slow"
	# A createRuntime hook runs while libcontainer starts the init: plugbox
	# is killed there, with the view mounted in its thread's namespace.
	jq_config "$PRIVATE/slow" '.hooks.createRuntime = [{"path": "/bin/sleep", "args": ["sleep", "2"]}]'
	killed="$(cid killed)"
	"$PLUGBOX" --root "$ROOT" create --bundle "$PRIVATE/slow" "$killed" </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	for _ in $(seq 50); do
		[ -n "$(views_of "$pid")" ] && break
		sleep 0.1
	done
	[ -n "$(views_of "$pid")" ]
	sleep 0.3
	kill -9 "$pid"
	wait "$pid" || true
	run -1 grep -F -e "$PRIVATE/slow/rootfs" -e /run/plugbox-rootfs /proc/self/mountinfo
	# Its empty mount point is all that is left; the next create removes it.
	[ -n "$(views_of "$pid")" ]
	run -0 pb run --bundle "$PRIVATE/b" "$(cid next)"
	[ -z "$(views_of "$pid")" ]
	# What the killed create left in the state root and the cgroups goes
	# with delete (the teardown checks that nothing is left).
	sleep 2 # the hook's sleep, which holds the killed create's namespace
	run -0 pb delete --force "$killed"
}

# delegate_cgroup USER creates a cgroup owned by USER in every hierarchy (a
# v2 subtree with memory, pids and cpu enabled, or one directory per v1
# controller) and prints the command prefix that starts a process in it.
delegate_cgroup() {
	local user="$1" c
	DELEGATED="plugbox-delegated-$$-$BATS_SUITE_TEST_NUMBER"
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		mkdir "/sys/fs/cgroup/$DELEGATED"
		echo "+memory +pids +cpu" >/sys/fs/cgroup/cgroup.subtree_control
		chown -R "$user:" "/sys/fs/cgroup/$DELEGATED"
		return
	fi
	for c in /sys/fs/cgroup/*/; do
		c="${c%/}"
		[ "$(stat -fc %T "$c")" = cgroupfs ] || [ "$(stat -fc %T "$c")" = cgroup2fs ] || continue
		mkdir "$c/$DELEGATED"
		if [ -f "$c/cpuset.cpus" ]; then
			cat "$c/cpuset.cpus" >"$c/$DELEGATED/cpuset.cpus"
			cat "$c/cpuset.mems" >"$c/$DELEGATED/cpuset.mems"
		fi
		chown -R "$user:" "$c/$DELEGATED"
	done
}

# in_delegated CMD... runs CMD (as root, which then switches user) in a
# process moved into the delegated cgroup first.
in_delegated() {
	DELEGATED="$DELEGATED" bash -c '
		for c in /sys/fs/cgroup/*/"$DELEGATED" /sys/fs/cgroup/"$DELEGATED"; do
			if [ -f "$c/cgroup.procs" ]; then echo $$ >"$c/cgroup.procs"; fi
		done
		exec "$@"' in_delegated "$@"
}

remove_delegated_cgroup() {
	[ -n "${DELEGATED:-}" ] || return 0
	find /sys/fs/cgroup -depth -type d -path "*/$DELEGATED*" -exec rmdir {} + 2>/dev/null || true
}

@test "rootless: an authored bundle in the user's 0700 directory runs" {
	if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$ROOTLESS_USER"
	fi
	RDIR="$(mktemp -d /tmp/plugbox-private.XXXXXX)"
	chown "$ROOTLESS_USER:" "$RDIR"
	chmod 0700 "$RDIR"
	ROOT="$RDIR/run/plugbox"
	# An authored bundle has memory, pids and CPU limits: the user needs a
	# cgroup of its own (systemd's Delegate=yes does this on other hosts).
	delegate_cgroup "$ROOTLESS_USER"
	user() {
		in_delegated runuser -u "$ROOTLESS_USER" -- env XDG_RUNTIME_DIR="$RDIR/run" "$@"
	}
	cat >"$RDIR/plugin.json" <<-JSON
	{"name": "private", "command": ["/bin/busybox", "sh", "-c", "echo rootless plugin as \$(id -u); cat /proc/self/uid_map"],
	 "syscalls": ["base", "fs-read", "process"]}
	JSON
	chown "$ROOTLESS_USER:" "$RDIR/plugin.json"
	run -0 user "$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$RDIR/plugin.json" "$RDIR/b"
	[ "$(stat -c '%a %U' "$RDIR")" = "700 $ROOTLESS_USER" ]
	run -0 user "$PLUGBOX" --root "$ROOT" run --bundle "$RDIR/b" "$(cid rootless)"
	[ "${lines[0]}" = "rootless plugin as 0" ]
	[ "$(echo ${lines[1]})" = "0 $(id -u "$ROOTLESS_USER") 1" ]
	[ -z "$(ls -A "$ROOT" | grep -vx @bpf-cache)" ]
}
