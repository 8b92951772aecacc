#!/usr/bin/env bats
# The authoring tool under attack (issue 10): a bundle directory, a rootfs,
# an ELF file, a script and manifest paths prepared by someone else must not
# make `plugbox bundle init` (run as root) write or copy anything outside
# the bundle, and what init checked is checked again at every create. Also
# the limits a manifest sets (fileSize, inotify, a non-dumpable plugin) seen
# from inside a real sandbox, and bad input refused at the earliest step
# (issue 15). Each test is the attack; each fails on the code before it.

load helpers

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	# Small C programs: the attacker's ELF files and probes run in sandboxes.
	PROGS=$(mktemp -d /var/tmp/plugbox-hostile-progs.XXXXXX)
	chmod 755 "$PROGS"
	printf 'int secret(void);\nint main(void) { return secret(); }\n' >"$PROGS/needs.c"
	printf 'int main(void) { return 0; }\n' >"$PROGS/main.c"
	cat >"$PROGS/probe.c" <<-'C'
	#include <errno.h>
	#include <fcntl.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <string.h>
	#include <sys/inotify.h>
	#include <sys/prctl.h>
	/* probe dumpable: PR_GET_DUMPABLE, and whether the process may read its
	   executable and its environ through /proc/self.
	   probe inotify N: create up to N inotify instances, report how many. */
	int main(int argc, char **argv) {
		if (argc > 1 && strcmp(argv[1], "dumpable") == 0) {
			const char *what[] = {"exe", "environ"};
			printf("dumpable=%d", prctl(PR_GET_DUMPABLE));
			for (int i = 0; i < 2; i++) {
				char p[64];
				snprintf(p, sizeof p, "/proc/self/%s", what[i]);
				int fd = open(p, O_RDONLY);
				printf(" %s=%s", what[i], fd < 0 ? strerror(errno) : "ok");
			}
			printf("\n");
			return 0;
		}
		if (argc > 2 && strcmp(argv[1], "inotify") == 0) {
			int n = 0, max = atoi(argv[2]), err = 0;
			while (n < max) {
				if (inotify_init1(IN_CLOEXEC) < 0) { err = errno; break; }
				n++;
			}
			printf("inotify=%d error=%s\n", n, err ? strerror(err) : "none");
			return 0;
		}
		return 2;
	}
	C
	gcc -O2 -static -o "$PROGS/probe" "$PROGS/probe.c"
	export PROGS
}

teardown_file() {
	[ -z "${PROGS:-}" ] || rm -rf "$PROGS"
}

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "bundle init as root is what these attacks target, and authored bundles map the sandbox to host uid 100000+"
	# Outside /tmp: write paths below /tmp would be inside the sandbox's tmpfs.
	W=$(mktemp -d /var/tmp/plugbox-hostile.XXXXXX)
	chmod 755 "$W"
	SECRET=""
}

teardown() {
	plugbox_teardown
	rm -rf "$W"
	[ -z "$SECRET" ] || rm -rf "$SECRET"
}

# secret_dir makes a root-only directory under /root holding key (0600).
secret_dir() {
	SECRET=$(mktemp -d /root/plugbox-secret.XXXXXX)
	echo "TOP-SECRET-$$" >"$SECRET/key"
	chmod 600 "$SECRET/key"
}

# nothing_copied fails if the secret's content appears anywhere below $W.
nothing_copied() {
	if grep -rqs "TOP-SECRET-$$" "$W"; then
		echo "the secret was copied: $(grep -rls "TOP-SECRET-$$" "$W")" >&2
		return 1
	fi
}

@test "bundle init never writes through a rootfs that is a symlink to another directory" {
	mkdir -p "$W/fakehost/etc"
	echo ORIGINAL-HOST-PASSWD >"$W/fakehost/etc/passwd"
	mkdir "$W/evil"
	ln -s "$W/fakehost" "$W/evil/rootfs"
	echo '{"name": "thumbnailer", "command": ["/etc/cron.hourly/thumbnailer"]}' >"$W/plugin.json"
	run -1 "$PLUGBOX" bundle init "$W/evil" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line "$W/evil is not empty" "rootfs"
	[ "$(cat "$W/fakehost/etc/passwd")" = ORIGINAL-HOST-PASSWD ]
	[ ! -e "$W/fakehost/etc/cron.hourly" ]
	[ "$(ls "$W/fakehost")" = etc ]
	[ "$(ls "$W/fakehost/etc")" = passwd ]
}

@test "bundle init never overwrites or chmods a private file a pre-made rootfs/etc/passwd links to" {
	mkdir -m 700 "$W/victim"
	echo SECRET-SHADOW-CONTENT >"$W/victim/shadow"
	chmod 600 "$W/victim/shadow"
	mkdir -p "$W/evil/rootfs/etc"
	ln -s "$W/victim/shadow" "$W/evil/rootfs/etc/passwd"
	run -1 "$PLUGBOX" bundle init "$W/evil" --exec "$BUSYBOX"
	error_line "is not empty"
	[ "$(cat "$W/victim/shadow")" = SECRET-SHADOW-CONTENT ]
	[ "$(stat -c %a "$W/victim/shadow")" = 600 ]
}

@test "bundle init refuses a bundle path that is a planted symlink, and a directory others can write" {
	mkdir "$W/fakeroot"
	ln -s "$W/fakeroot" "$W/link"
	echo '{"name": "x", "command": ["/etc/cron.hourly/x"]}' >"$W/plugin.json"
	run -1 "$PLUGBOX" bundle init "$W/link" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line "$W/link is a symbolic link"
	[ -z "$(ls -A "$W/fakeroot")" ]
	# An empty directory another user owns, or anyone may write: that user
	# could plant the link after the check.
	mkdir -m 777 "$W/shared"
	run -1 "$PLUGBOX" bundle init "$W/shared" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line "$W/shared (mode 0777) is writable by other users"
	mkdir "$W/theirs"
	chown nobody "$W/theirs"
	run -1 "$PLUGBOX" bundle init "$W/theirs" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line "$W/theirs is owned by uid $(id -u nobody)"
	[ -z "$(ls -A "$W/shared")" ] && [ -z "$(ls -A "$W/theirs")" ]
}

@test "a failed bundle init leaves nothing behind" {
	run -1 "$PLUGBOX" bundle init "$W/new/b" --exec /nonexistent
	error_line "/nonexistent"
	run -1 "$PLUGBOX" bundle init "$W/new/b" --exec /tmp
	error_line "not an executable regular file"
	printf 'plain text\n' >"$W/notes"
	chmod 755 "$W/notes"
	run -1 "$PLUGBOX" bundle init "$W/new/b" --exec "$W/notes"
	error_line "neither ELF nor a #! script"
	[ ! -e "$W/new" ]
	# A failure after the rootfs was started: a script whose interpreter is
	# private. The existing empty directory stays empty.
	secret_dir
	cp "$BUSYBOX" "$SECRET/interp"
	chmod 700 "$SECRET/interp"
	printf '#!%s/interp sh\necho hi\n' "$SECRET" >"$W/script"
	chmod 755 "$W/script"
	run -1 "$PLUGBOX" bundle init "$W/new/b" --exec "$W/script"
	error_line "$SECRET/interp" "mode 0700, not readable by every user" "--allow-untrusted-files"
	[ ! -e "$W/new" ]
	mkdir "$W/empty"
	run -1 "$PLUGBOX" bundle init "$W/empty" --exec "$W/script"
	[ -z "$(ls -A "$W/empty")" ]
}

@test "an ELF interpreter naming a private host file (-Wl,--dynamic-linker) is not copied" {
	secret_dir
	gcc -o "$W/evil-interp" -Wl,--dynamic-linker="$SECRET/key" "$PROGS/main.c"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$W/evil-interp"
	error_line "$SECRET/key" "not readable by every user"
	[ ! -e "$W/b" ]
	nothing_copied
	# Allowing untrusted files still copies only an ELF loader.
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$W/evil-interp" --allow-untrusted-files
	error_line "$SECRET/key is not an ELF object"
	[ ! -e "$W/b" ]
	nothing_copied
}

@test "an absolute DT_NEEDED path is not taken from the ELF file" {
	secret_dir
	printf 'int secret(void) { return 42; }\n' >"$W/lib.c"
	gcc -shared -fPIC -o "$SECRET/libsecret.so" "$W/lib.c"
	echo "TOP-SECRET-$$" >>"$SECRET/libsecret.so"
	chmod 600 "$SECRET/libsecret.so"
	# Linked by path and without a soname, DT_NEEDED is that absolute path.
	gcc -o "$W/evil-needed" "$PROGS/needs.c" "$SECRET/libsecret.so"
	readelf -d "$W/evil-needed" | grep -F "[$SECRET/libsecret.so]"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$W/evil-needed"
	error_line "DT_NEEDED \"$SECRET/libsecret.so\" is a path"
	[ ! -e "$W/b" ]
	nothing_copied
	# Not a matter of trust: a path is refused even with the opt-in.
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$W/evil-needed" --allow-untrusted-files
	error_line "DT_NEEDED \"$SECRET/libsecret.so\" is a path"
	[ ! -e "$W/b" ]
	nothing_copied
}

@test "a #! interpreter that is a private host file is not copied; a system one is, and runs" {
	secret_dir
	cp "$BUSYBOX" "$SECRET/interp"
	echo "TOP-SECRET-$$" >>"$SECRET/interp"
	chmod 700 "$SECRET/interp"
	printf '#!%s/interp sh\necho hi\n' "$SECRET" >"$W/evil-script"
	chmod 755 "$W/evil-script"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$W/evil-script"
	error_line "$SECRET/interp" "not readable by every user"
	nothing_copied
	# The control: /bin/sh (dash, dynamic) is root-owned and world-readable.
	printf '#!/bin/sh\necho script-ran\n' >"$W/script"
	chmod 700 "$W/script"
	echo '{"name": "script", "command": ["/bin/script"], "syscalls": ["base", "fs-read", "process"]}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b" --exec "$W/script" --manifest "$W/plugin.json"
	[ "$(stat -c %a "$W/b/rootfs/bin/script")" = 555 ]
	run -0 pb run --bundle "$W/b" "$(cid script)"
	[ "$output" = script-ran ]
}

@test "a write path swapped between create's check and the mount never reaches the plugin: the shim refuses it" {
	mkdir "$W/out" "$W/other"
	touch "$W/out/is-checked" "$W/other/is-swapped"
	chown -R 1000:1000 "$W/out" "$W/other"
	cat >"$W/plugin.json" <<-JSON
	{"name": "lister", "command": ["/bin/busybox", "ls", "$W/out"], "write": ["$W/out"]}
	JSON
	"$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	# The attacker owns the path's parent: every 2 ms it exchanges the
	# checked directory with a link to another one (renameat2
	# RENAME_EXCHANGE, so the path always exists), racing each create
	# between bundle.VerifyBinds and libcontainer's bind mount.
	ln -s "$W/other" "$W/alt"
	python3 - "$W/out" "$W/alt" "$W/stop" <<-'PY' &
	import ctypes, os, sys, time
	libc = ctypes.CDLL(None, use_errno=True)
	a, b, stop = (p.encode() for p in sys.argv[1:])
	while not os.path.exists(stop):
	    if libc.renameat2(-100, a, -100, b, 2) != 0:
	        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
	    time.sleep(0.002)
	PY
	swapper=$!
	# bats warns about exit code 127 (command not found): the shim's
	# refusal (127) comes back as 99.
	race_run() {
		pb run --bundle "$W/b" "$1" && return 0
		local rc=$?
		[ "$rc" = 127 ] && return 99
		return "$rc"
	}
	# Until the shim has caught the race three times (about 1 run in 5
	# here), at most 150 runs.
	local ran=0 refused_at_create=0 refused_by_shim=0 i
	for i in $(seq 150); do
		[ "$refused_by_shim" -lt 3 ] || break
		run --separate-stderr race_run "$(cid race$i)"
		if [ "$status" = 0 ] && [ "$output" = is-checked ]; then
			ran=$((ran + 1))
		elif [ "$status" = 99 ] && [[ "$stderr" == *"bind mounts: $W/out shows another file than the host path create checked"* ]]; then
			refused_by_shim=$((refused_by_shim + 1))
		elif [ "$status" = 1 ] && [[ "$stderr" == *"write path $W/out"* ]]; then
			refused_at_create=$((refused_at_create + 1))
		else
			# Above all not is-swapped: the plugin saw the other directory.
			echo "run $i: status $status, output: $output, stderr: $stderr"
			touch "$W/stop"
			wait $swapper
			return 1
		fi
	done
	touch "$W/stop"
	wait $swapper
	echo "ran $ran, refused at create $refused_at_create, refused by the shim $refused_by_shim"
	# The race was won past create's check, and the shim caught it.
	[ "$refused_by_shim" -ge 3 ]
	[ -z "$(pb list -q)" ]
}

@test "copies of host files keep their own mode; the plugin executable is execute-only" {
	"$PLUGBOX" bundle init "$W/b" --exec /usr/bin/jq
	[ "$(stat -c %a "$W/b/rootfs/bin/jq")" = 111 ]
	lib=$(ldd /usr/bin/jq | awk '/libjq/ {print $3}')
	real=$(readlink -f "$lib")
	[ "$(stat -c %a "$W/b/rootfs$real")" = "$(stat -c %a "$real")" ]
}

@test "a write path swapped for a symlink to /etc, or for another directory, after init is refused at create" {
	mkdir "$W/out"
	chown 1000:1000 "$W/out"
	cat >"$W/plugin.json" <<-JSON
	{"name": "writer", "command": ["/bin/busybox", "ls", "$W/out"], "write": ["$W/out"]}
	JSON
	"$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	run -0 pb run --bundle "$W/b" "$(cid before)"
	mv "$W/out" "$W/out.orig"
	ln -s /etc "$W/out"
	run -1 pb run --bundle "$W/b" "$(cid link)"
	error_line "write path $W/out" "symbolic link"
	[[ "$output" != *passwd* ]]
	rm "$W/out"
	mkdir "$W/out"
	run -1 pb run --bundle "$W/b" "$(cid other)"
	error_line "write path $W/out" "no longer the file bundle init checked"
	run -1 "$PLUGBOX" check "$W/b"
	[[ "$output" == *"HIGH annotations[org.plugbox.binds]: write path $W/out"*"no longer the file bundle init checked"* ]]
	rmdir "$W/out"
	mv "$W/out.orig" "$W/out"
	run -0 pb run --bundle "$W/b" "$(cid after)"
	[ -z "$(pb list -q)" ]
	# What create compares with: the path and identity init recorded.
	jq -e --arg p "$W/out" '.annotations["org.plugbox.binds"] | fromjson | .[0] | .source == $p and .dir and .write and .ino > 0' "$W/b/config.json"
}

@test "check uses seccompgen's never-granted list and flags a symlinked rootfs and passed descriptors" {
	echo '{"name": "fds", "command": ["/bin/jq"], "fds": ["input"]}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b" --exec /usr/bin/jq --manifest "$W/plugin.json"
	run -0 "$PLUGBOX" check "$W/b"
	[[ "$output" == *"LOW annotations[org.plugbox.fdnames]: the plugin receives host descriptors (input)"*"AF_INET"*"loopback"* ]]
	# A learned or edited profile that allows what plugbox never grants.
	jq '.linux.seccomp.syscalls += [{"names": ["io_uring_setup", "pidfd_getfd", "kcmp", "modify_ldt"], "action": "SCMP_ACT_ALLOW"}]' \
		"$W/b/config.json" >"$W/c" && mv "$W/c" "$W/b/config.json"
	run -1 "$PLUGBOX" check "$W/b"
	[[ "$output" == *"HIGH linux.seccomp.syscalls: allowed, though plugbox never grants them (seccompgen.DeniedAlways): io_uring_setup, kcmp, modify_ldt, pidfd_getfd"* ]]
	mv "$W/b/rootfs" "$W/elsewhere"
	ln -s "$W/elsewhere" "$W/b/rootfs"
	run -1 "$PLUGBOX" check "$W/b"
	[[ "$output" == *"HIGH root.path: $W/b/rootfs is a symbolic link to $W/elsewhere"* ]]
}

@test "limits.fileSize caps every file the plugin writes (RLIMIT_FSIZE)" {
	cat >"$W/plugin.json" <<-'JSON'
	{"name": "fsize", "command": ["/bin/busybox", "sh", "-c", "busybox dd if=/dev/zero of=/tmp/f bs=1024 count=2048 2>/dev/null; echo rc=$?; busybox wc -c </tmp/f"],
	 "syscalls": ["base", "fs-read", "fs-write", "process"], "limits": {"fileSize": "1M"}}
	JSON
	"$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	jq -e '.process.rlimits[] | select(.type == "RLIMIT_FSIZE") | .hard == 1048576' "$W/b/config.json"
	run -0 pb run --bundle "$W/b" "$(cid fsize)"
	# dd is killed by SIGXFSZ (25) at the limit
	[ "${lines[0]}" = rc=153 ]
	[ "${lines[1]}" = 1048576 ]
}

@test "the plugin cannot read its own executable, so it stays non-dumpable (PR_GET_DUMPABLE)" {
	# The control: on the host the same probe is dumpable and reads itself.
	run -0 "$PROGS/probe" dumpable
	[ "$output" = "dumpable=1 exe=ok environ=ok" ]
	echo '{"name": "dump", "command": ["/bin/probe", "dumpable"], "syscalls": ["base", "fs-read", "threads"]}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b" --exec "$PROGS/probe" --manifest "$W/plugin.json"
	run -0 pb run --bundle "$W/b" "$(cid dump)"
	# What it costs: the plugin's own owner-only /proc/self files are root's.
	[ "$output" = "dumpable=0 exe=Permission denied environ=Permission denied" ]
	# The opt-out for plugins that read their own executable.
	echo '{"name": "dump", "command": ["/bin/probe", "dumpable"], "syscalls": ["base", "fs-read", "threads"], "readableExecutable": true}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b2" --exec "$PROGS/probe" --manifest "$W/plugin.json"
	[ "$(stat -c %a "$W/b2/rootfs/bin/probe")" = 555 ]
	run -0 pb run --bundle "$W/b2" "$(cid readable)"
	[ "$output" = "dumpable=1 exe=ok environ=ok" ]
}

@test "the default groups grant no inotify instance (host root's are shared by every sandbox); group inotify does" {
	run -0 "$PROGS/probe" inotify 2
	[ "$output" = "inotify=2 error=none" ]
	echo '{"name": "ino", "command": ["/bin/probe", "inotify", "2"]}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b" --exec "$PROGS/probe" --manifest "$W/plugin.json"
	run -0 pb run --bundle "$W/b" "$(cid default)"
	[ "${lines[0]}" = "inotify=0 error=Operation not permitted" ]
	[[ "${lines[1]}" == *"seccomp denied 1 system call(s): inotify_init1"* ]]
	echo '{"name": "ino", "command": ["/bin/probe", "inotify", "2"], "syscalls": ["base", "fs-read", "inotify"]}' >"$W/plugin.json"
	"$PLUGBOX" bundle init "$W/b2" --exec "$PROGS/probe" --manifest "$W/plugin.json"
	run -0 pb run --bundle "$W/b2" "$(cid granted)"
	[ "$output" = "inotify=2 error=none" ]
}

@test "bad manifest input is refused before anything is written" {
	echo '{"name": "big", "command": ["/bin/busybox"], "limits": {"memory": "32M"}}' >"$W/plugin.json"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line "limits.tmp 64M is larger than limits.memory 32M"
	: >"$W/empty.json"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/empty.json"
	error_line "$W/empty.json is empty"
	# plugin.json is plugbox's own schema: a misspelled field stays an error.
	echo '{"name": "typo", "command": ["/bin/busybox"], "limits": {"fileSise": "1M"}}' >"$W/plugin.json"
	run -1 "$PLUGBOX" bundle init "$W/b" --exec "$BUSYBOX" --manifest "$W/plugin.json"
	error_line 'unknown field "fileSise"'
	[ ! -e "$W/b" ]
}
