# Shared helpers for the client suites (podman.bats, containerd.bats,
# cri.bats): they drive real container clients against one OCI runtime
# binary, RUNTIME (default: this tree's bin/plugbox), so the same checks
# run against runc, crun and plugbox.
#
# Isolation from everything else on the machine: every suite works in its own
# directory $W (/run/clients-SUITE-XXXXXX), puts its containers in a cgroup
# parent named after the run ($RUNID), marks every container process with
# CLIENTS_MARK=$RUNID in its environment, and reaches the runtime only
# through a logging wrapper in $W/rt, so the calls the client made can be
# listed afterwards and every container ID the client created can be checked
# for leftover runtime state.

if declare -F bats_require_minimum_version >/dev/null; then
	bats_require_minimum_version 1.5.0
fi

CLIENTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$CLIENTS_DIR/../.." && pwd)"
CLIENTS_CACHE="${CLIENTS_CACHE:-$CLIENTS_DIR/.cache}"
CLIENTS_WORK="${CLIENTS_WORK:-$CLIENTS_DIR/.work}"
CLIENTS_LOG_DIR="${CLIENTS_LOG_DIR:-$CLIENTS_WORK/logs}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
export PATH="/usr/local/go/bin:$PATH"

# clients_runtime resolves RUNTIME to an absolute path and sets RT_NAME.
clients_runtime() {
	local rt="${RUNTIME:-$REPO_DIR/bin/plugbox}"
	if [ "${rt#/}" = "$rt" ]; then
		rt="$(command -v "$rt" || echo "$rt")"
	fi
	if [ ! -x "$rt" ]; then
		echo "runtime $rt is not an executable: run 'make build' or set RUNTIME=/path/to/runtime" >&2
		return 1
	fi
	RT_REAL="$(readlink -f "$rt")"
	RT_NAME="$(basename "$rt")"
	export RT_REAL RT_NAME
}

# clients_require_root fails the suite when not run as root: every check
# here starts real containers through a root client.
clients_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "the client suites run containers through root podman/containerd: run them as root" >&2
		return 1
	fi
}

# clients_apt PKG... installs the Debian packages that are missing.
clients_apt() {
	local missing="" p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "# installing:$missing" >&"${CLIENTS_NOTE_FD:-3}"
	# Other engineers' runs may hold the dpkg lock for a while.
	apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends $missing >/dev/null
}

# clients_init SUITE creates this run's work directory and names, and the
# logging wrapper for RUNTIME. Call it from setup_file; it exports what the
# tests need.
clients_init() {
	local suite="$1"
	clients_require_root
	clients_runtime
	mkdir -p "$CLIENTS_WORK" "$CLIENTS_LOG_DIR"
	# Short and outside /tmp: podman 4.3 waits 20 s for every exit code when
	# its run root is longer than about 40 characters, unix socket paths
	# are limited to 108, and another workload may mount over /tmp.
	W="$(mktemp -d "/run/clients-$suite-XXXXXX")"
	RUNID="${W#/run/}"
	SUITE="$suite"
	mkdir -p "$W/tmp"
	export W RUNID SUITE
	# The wrapper carries the runtime's own name: podman chooses flags by it
	# (it adds --log-format=json only for runtimes it knows, such as runc).
	RT="$(make_wrapper "$W/rt/$RT_NAME" "$RT_REAL" "$W/calls-$RT_NAME.log")"
	export RT
}

# make_wrapper PATH REAL LOG [ARG...] writes an executable PATH that appends
# its argv (and the caller's command name) to LOG, then execs REAL with
# ARG... followed by its own arguments, keeping pid, stdio and exit status.
make_wrapper() {
	local path="$1" real="$2" log="$3"
	shift 3
	mkdir -p "$(dirname "$path")"
	{
		echo '#!/bin/bash'
		echo "# Logging wrapper written by tests/clients/lib.bash for $real."
		printf 'line="$(date +%%T.%%N) $(cat /proc/$PPID/comm 2>/dev/null):"\n'
		printf 'for a in "$@"; do line+=" $a"; done\n'
		printf 'printf "%%s\\n" "$line" >>%q\n' "$log"
		printf 'exec %q' "$real"
		[ $# -gt 0 ] && printf ' %q' "$@"
		printf ' "$@"\n'
	} >"$path"
	chmod 0755 "$path"
	printf '%s %s\n' "$log" "$real" >>"$W/wrappers"
	echo "$path"
}

# calls_summary LOG prints each distinct shape of call in LOG: the caller,
# the global flags, the verb and its flags (values dropped except formats
# and the signal of kill), with a count.
calls_summary() {
	awk '
	{
		caller = $2; sub(/:$/, "", caller)
		out = ""; verb = ""; nvals["--root"]; nvals["--log"]; nvals["--log-format"]; nvals["--criu"]
		for (i = 3; i <= NF; i++) {
			t = $i
			if (verb == "") {
				if (t ~ /^-/) {
					name = t; sub(/=.*/, "", name)
					if (name == "--log-format" && t ~ /=/) { v = t; sub(/^[^=]*=/, "", v); name = name "=" v }
					out = out " " name
					if (t !~ /=/ && (t in nvals)) {
						if (t == "--log-format") out = out "=" $(i + 1)
						i++
					}
				} else { verb = t; out = out " " verb; npos = 0 }
				continue
			}
			if (t ~ /^-/) {
				name = t; sub(/=.*/, "", name)
				out = out " " name
				if (name == "--format" || name == "-f") { if (t ~ /=/) { v = t; sub(/^[^=]*=/, "", v) } else v = $(i + 1); out = out "=" v }
			} else if (verb == "kill") {
				npos++; if (npos == 2) out = out " SIG" t
			}
		}
		print caller ":" out
	}' "$1" | sort | uniq -c | sort -k2
}

# save_calls copies the wrapper logs of this run to CLIENTS_LOG_DIR and
# prints their summaries on fd 3 (bats shows them).
save_calls() {
	local log base
	for log in "$W"/calls-*.log; do
		[ -s "$log" ] || continue
		base="$SUITE-$(basename "$log" .log | sed 's/^calls-//')"
		cp "$log" "$CLIENTS_LOG_DIR/$base.calls"
		calls_summary "$log" >"$CLIENTS_LOG_DIR/$base.summary"
		{
			echo "# runtime calls ($base; full log $CLIENTS_LOG_DIR/$base.calls):"
			sed 's/^/#   /' "$CLIENTS_LOG_DIR/$base.summary"
		} >&"${CLIENTS_NOTE_FD:-3}"
	done
}

# created_ids LOG prints "ROOT ID" for every container the runtime was asked
# to create (ROOT is "-" when the caller used the runtime's default root).
created_ids() {
	awk '{
		root = "-"; id = ""
		for (i = 3; i <= NF; i++) {
			if ($i == "--root") root = $(i + 1)
			else if ($i ~ /^--root=/) { root = $i; sub(/^--root=/, "", root) }
			if ($i == "create" || $i == "run") verb = $i
		}
		if (verb != "") print root, $NF
		verb = ""
	}' "$1" | sort -u
}

# runtime_state_left REAL LOG prints the containers created through LOG that
# REAL still knows about.
runtime_state_left() {
	local real="$1" log="$2" root id
	[ -f "$log" ] || return 0
	while read -r root id; do
		if [ "$root" = "-" ]; then
			"$real" state "$id" >/dev/null 2>&1 && echo "runtime state: $id (default root)"
		else
			"$real" --root "$root" state "$id" >/dev/null 2>&1 && echo "runtime state: $id (root $root)"
			[ -e "$root/$id" ] && echo "runtime state dir: $root/$id"
		fi
	done < <(created_ids "$log")
	return 0
}

# marked_procs prints the processes that belong to this run: those with
# CLIENTS_MARK=$RUNID in their environment or $W on their command line.
marked_procs() {
	local f pid
	{
		grep -lzx -- "CLIENTS_MARK=$RUNID" /proc/[0-9]*/environ 2>/dev/null
		grep -laF -- "$W" /proc/[0-9]*/cmdline 2>/dev/null
	} | sed -n 's|^/proc/\([0-9]*\)/.*|\1|p' | sort -un | while read -r pid; do
		# Not this shell, nor the grep that just read its own files.
		[ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
		f="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" || continue
		[ -n "$f" ] && [[ "$f" != "grep "* ]] && echo "process $pid: $f"
	done
	return 0
}

# mounts_under DIR prints the mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# cgroup_dirs prints every directory of this run's cgroup parent, in every
# hierarchy, deepest first.
cgroup_dirs() {
	local mnt
	for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo); do
		[ -d "$mnt/$RUNID" ] && find "$mnt/$RUNID" -depth -type d
	done
	return 0
}

# cgroups_left prints the cgroups below this run's parent that still exist
# or still hold processes (the parent itself is left to clean_run).
cgroups_left() {
	local d
	while read -r d; do
		if [ -n "$(cat "$d/cgroup.procs" 2>/dev/null)" ]; then
			echo "cgroup with processes: $d ($(tr '\n' ' ' <"$d/cgroup.procs"))"
		elif [ "$(basename "$d")" != "$RUNID" ]; then
			echo "cgroup: $d"
		fi
	done < <(cgroup_dirs)
}

# leaks prints everything of this run that is still there: runtime state of
# created containers, processes, mounts under $W and cgroups. Extra lines may
# come from the caller (e.g. the client's own container list).
leaks() {
	local log
	for log in "$W"/calls-*.log; do
		[ -f "$log" ] || continue
		runtime_state_left "$(wrapped_real "$log")" "$log"
	done
	marked_procs
	mounts_under "$W" | sed 's/^/mount: /'
	cgroups_left
}

# wrapped_real LOG prints the real runtime of the wrapper that writes LOG.
wrapped_real() {
	awk -v l="$1" '$1 == l { print $2; exit }' "$W/wrappers"
}

# clean_run removes everything of this run, whatever the tests left: it
# kills marked processes, deletes the runtime state of created containers,
# unmounts what is under $W, removes the run's cgroups and $W. Client-specific
# cleanup (stopping a daemon) runs before it.
clean_run() {
	[ -n "${W:-}" ] && [ -d "$W" ] || return 0
	local line pid log real root id m d
	for _ in 1 2 3; do
		while read -r line; do
			pid="${line#process }"
			pid="${pid%%:*}"
			kill -9 "$pid" 2>/dev/null
		done < <(marked_procs)
		sleep 0.2
	done
	for log in "$W"/calls-*.log; do
		[ -f "$log" ] || continue
		real="$(wrapped_real "$log")"
		while read -r root id; do
			if [ "$root" = "-" ]; then
				"$real" delete --force "$id" >/dev/null 2>&1
			else
				"$real" --root "$root" delete --force "$id" >/dev/null 2>&1
			fi
		done < <(created_ids "$log")
	done
	for m in $(mounts_under "$W"); do
		umount -l "$m" 2>/dev/null
	done
	while read -r d; do
		rmdir "$d" 2>/dev/null || echo "# could not remove cgroup $d" >&"${CLIENTS_NOTE_FD:-3}"
	done < <(cgroup_dirs)
	if [ -z "$(mounts_under "$W")" ]; then
		rm -rf --one-file-system "$W"
	else
		echo "# left $W: mounts remain below it" >&"${CLIENTS_NOTE_FD:-3}"
	fi
}

# build_rootfs DIR makes a busybox root filesystem: every applet linked in
# /bin, root and nobody in /etc/passwd and /etc/group.
build_rootfs() {
	local dir="$1" a
	if [ ! -x "$BUSYBOX" ]; then
		echo "$BUSYBOX is missing: install Debian's busybox-static" >&2
		return 1
	fi
	mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root}
	cp "$BUSYBOX" "$dir/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
	chmod 1777 "$dir/tmp"
}

# image_archive NAME CMD_JSON prints the path of a one-layer OCI image
# archive of the busybox rootfs, named NAME (e.g. localhost/x:1) with the
# default command CMD_JSON. No registry is reachable here, so every client
# loads its images from such an archive. Archives are cached by busybox
# digest, name and command.
image_archive() {
	local name="$1" cmd="$2" key out d ld ls cd cs md ms
	key="$(printf '%s\n%s\n%s\n' "$(sha256sum <"$BUSYBOX")" "$name" "$cmd" | sha256sum | cut -c1-16)"
	out="$CLIENTS_CACHE/images/$key.tar"
	if [ ! -s "$out" ]; then
		d="$(mktemp -d "$CLIENTS_WORK/image-XXXXXX")"
		build_rootfs "$d/rootfs"
		mkdir -p "$d/oci/blobs/sha256" "$CLIENTS_CACHE/images"
		tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d/rootfs" -cf "$d/layer" .
		ld="$(sha256sum <"$d/layer" | cut -d' ' -f1)"
		ls="$(stat -c %s "$d/layer")"
		mv "$d/layer" "$d/oci/blobs/sha256/$ld"
		jq -cnj --arg diff "sha256:$ld" --argjson cmd "$cmd" \
			'{architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$diff]},
			  config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: $cmd}}' >"$d/config"
		cd="$(sha256sum <"$d/config" | cut -d' ' -f1)"
		cs="$(stat -c %s "$d/config")"
		mv "$d/config" "$d/oci/blobs/sha256/$cd"
		jq -cnj --arg cd "sha256:$cd" --argjson cs "$cs" --arg ld "sha256:$ld" --argjson ls "$ls" \
			'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
			  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
			  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]}' >"$d/manifest"
		md="$(sha256sum <"$d/manifest" | cut -d' ' -f1)"
		ms="$(stat -c %s "$d/manifest")"
		mv "$d/manifest" "$d/oci/blobs/sha256/$md"
		# containerd names an imported image by io.containerd.image.name,
		# podman by org.opencontainers.image.ref.name.
		jq -cn --arg md "sha256:$md" --argjson ms "$ms" --arg name "$name" \
			'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
			  digest: $md, size: $ms, annotations: {"io.containerd.image.name": $name,
			  "org.opencontainers.image.ref.name": $name}}]}' >"$d/oci/index.json"
		echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
		tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d/oci" -cf "$out.tmp" oci-layout index.json blobs
		mv "$out.tmp" "$out"
		rm -rf "$d"
	fi
	echo "$out"
}

# cgroup_file PID CONTROLLER FILE prints the path of FILE in the v1
# CONTROLLER cgroup of PID.
cgroup_file() {
	local pid="$1" ctl="$2" file="$3" path
	path="$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")"
	echo "/sys/fs/cgroup/$ctl$path/$file"
}

# wait_for SECONDS CMD... retries CMD every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# terminal_session CMD runs the simple command CMD (one program and its
# arguments, shell-quoted) on a terminal of script(1) and types a line into
# it the way a user does: "typed" once CMD has printed "ready", then the
# terminal stays open until CMD printed "got:". It fails with CMD's status;
# output is what CMD printed, carriage returns removed.
# CMD is exec'd by the shell script(1) starts, so that it leads the
# terminal's foreground process group whatever $SHELL is: dash (/bin/sh,
# which script(1) runs when $SHELL is unset) forks for "sh -c CMD", and a
# timeout(1) there without
# --foreground puts the client in a background group, where podman's
# tcsetattr stops it with SIGTTOU before it calls the runtime. Callers pass
# timeout --foreground for the same reason.
terminal_session() {
	local out="$W/terminal.out" rc=0
	: >"$out"
	{
		for _ in $(seq 600); do grep -q ready "$out" && break; sleep 0.1; done
		echo typed
		for _ in $(seq 600); do grep -q got: "$out" && break; sleep 0.1; done
	} | SHELL=/bin/sh script -qec "exec $1" /dev/null >"$out" || rc=$?
	output="$(tr -d '\r' <"$out")"
	return "$rc"
}
