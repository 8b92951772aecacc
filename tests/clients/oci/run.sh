#!/usr/bin/env bash
# OCI runtime-tools validation suite (v0.9.0) against several runtimes in
# one run, compared with an explicit list of expected failures.
#
#   tests/clients/oci/run.sh [LABEL=RUNTIME ...]
#   tests/clients/oci/run.sh --report LABEL...   (re-judge the saved results)
#
# Default: runc=/usr/sbin/runc crun=/usr/bin/crun plugbox=bin/plugbox.
# Every validation program runs once per runtime, with RUNTIME set to a
# logging wrapper that gives the runtime a private --root. Its TAP output is
# parsed; an assertion fails when it is "not ok", when the program exits
# non-zero, when it exits 0 without any TAP (the container's runtimetest never
# ran), or when an in-container run it reports as "ok" captured no output at
# all (the suite passes those; nothing was checked). Failures are compared
# with expected-failures beside this script: any failure not listed there
# for that runtime makes the run fail. A table of assertions per program
# and runtime is printed and saved under CLIENTS_LOG_DIR/oci.
#
# The suite is built once from the Go module proxy and cached in
# tests/clients/.cache (CLIENTS_CACHE). Everything else lives under a
# directory /run/clients-oci-XXXXXX that is removed at the end; the runner
# moves itself into a cgroup of that name, so the suite's relative and
# default cgroups land below it.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.bash
. "$HERE/../lib.bash"
CLIENTS_NOTE_FD=2
SUITE_MODULE=github.com/opencontainers/runtime-tools
SUITE_VERSION=v0.9.0
SUITE="$CLIENTS_CACHE/runtime-tools-$SUITE_VERSION"
EXPECTED="$HERE/expected-failures"
PROGRAM_TIMEOUT=120

die() {
	echo "oci: $*" >&2
	exit 1
}

# build_suite builds the validation programs, a static runtimetest and the
# suite's rootfs into $SUITE, unless the cache holds this exact build.
build_suite() {
	local stamp dir src
	stamp="$(cat "$HERE/runtime-tools.go.mod" "$HERE/runtime-tools.go.sum" | sha256sum | cut -c1-16) $(go env GOVERSION)"
	if [ -f "$SUITE/stamp" ] && [ "$(cat "$SUITE/stamp")" = "$stamp" ]; then
		return 0
	fi
	echo "oci: building $SUITE_MODULE@$SUITE_VERSION into $SUITE (about 90 s, cached afterwards)" >&2
	dir="$(go mod download -json "$SUITE_MODULE@$SUITE_VERSION" | jq -r .Dir)"
	[ -d "$dir" ] || die "go mod download $SUITE_MODULE@$SUITE_VERSION gave no module directory"
	rm -rf "$SUITE"
	mkdir -p "$SUITE/bin"
	src="$SUITE/src"
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	# v0.9.0 predates modules (Godeps), and the proxy does not serve its
	# pinned revisions: our go.mod requires runtime-spec v1.0.2 and selinux
	# v1.0.0, the versions its code is written against, and pins the rest.
	rm -rf "$src/Godeps"
	cp "$HERE/runtime-tools.go.mod" "$src/go.mod"
	cp "$HERE/runtime-tools.go.sum" "$src/go.sum"
	(cd "$src" && GOFLAGS=-buildvcs=false go build -o "$SUITE/bin/" ./validation/...)
	(cd "$src" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -tags "netgo osusergo" -o "$SUITE/runtimetest" ./cmd/runtimetest)
	cp "$src/rootfs-amd64.tar.gz" "$SUITE/"
	rm -rf "$src"
	echo "$stamp" >"$SUITE/stamp"
}

# run_cgroup_paths prints "MOUNT OWN" for every cgroup hierarchy: its mount
# point and this process's cgroup in it.
run_cgroup_paths() {
	local id ctls path mnt
	while IFS=: read -r id ctls path; do
		if [ -z "$ctls" ]; then
			mnt="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)"
		else
			mnt="$(awk -v c="$ctls" '$9 == "cgroup" {
				n = split($NF, o, ","); split(c, want, ","); hit = 0
				for (w in want) for (i = 1; i <= n; i++) if (o[i] == want[w]) hit++
				if (hit == length(want)) { print $5; exit } }' /proc/self/mountinfo)"
		fi
		[ -n "$mnt" ] && echo "$mnt $path"
	done </proc/self/cgroup
}

# enter_run_cgroup moves this shell into a child cgroup named $RUNID of
# its own cgroup in every hierarchy.
enter_run_cgroup() {
	local mnt own dir
	while read -r mnt own; do
		dir="$mnt${own%/}/$RUNID"
		mkdir -p "$dir"
		if [ -f "$dir/cpuset.cpus" ]; then
			cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
			cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
		fi
		echo "$BASHPID" >"$dir/cgroup.procs"
		echo "$dir" >>"$W/run-cgroups"
	done < <(run_cgroup_paths)
}

# leave_run_cgroup moves this shell back and removes the run's cgroups.
leave_run_cgroup() {
	local dir
	[ -f "$W/run-cgroups" ] || return 0
	while read -r dir; do
		echo "$BASHPID" >"$(dirname "$dir")/cgroup.procs" 2>/dev/null || true
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || echo "oci: could not remove cgroup $dir" >&2
	done <"$W/run-cgroups"
	rm -f "$W/run-cgroups"
}

# side_effects LABEL REAL ROOT removes and prints what the last program left
# behind: containers in the runtime's root, processes whose root or cwd is
# under $W, mounts under $W, cgroups below the run's cgroup and absolute
# "cgrouptest" cgroups, and bundle directories in $W/tmp.
side_effects() {
	local label="$1" real="$2" root="$3" id p m dir mnt
	for id in $("$real" --root "$root" list -q 2>/dev/null); do
		echo "container $id"
		"$real" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done
	# Container processes live in cgroups below the run's cgroup or in the
	# suite's absolute "cgrouptest" ones; the runner itself sits in the
	# run's cgroup, not below it.
	for p in $(cat_procs); do
		echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
		kill -9 "$p" 2>/dev/null || true
	done
	for m in $(mounts_under "$W"); do
		echo "mount $m"
		umount -l "$m" 2>/dev/null || true
	done
	while read -r dir; do
		find "$dir" -mindepth 1 -depth -type d 2>/dev/null | while read -r m; do
			echo "cgroup $m"
			rmdir "$m" 2>/dev/null || echo "cgroup $m could not be removed"
		done
	done <"$W/run-cgroups"
	for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo); do
		if [ -d "$mnt/cgrouptest" ] && [ -z "$(cat "$mnt/cgrouptest/cgroup.procs" 2>/dev/null)" ]; then
			echo "cgroup $mnt/cgrouptest"
			find "$mnt/cgrouptest" -depth -type d -exec rmdir {} + 2>/dev/null || true
		fi
	done
	for dir in "$W"/tmp/*; do
		[ -e "$dir" ] || continue
		echo "bundle $dir"
		rm -rf --one-file-system "$dir"
	done
}

# cat_procs prints the processes in cgroups below the run's cgroup and in
# absolute "cgrouptest" cgroups.
cat_procs() {
	local mnt
	{
		while read -r dir; do
			find "$dir" -mindepth 2 -name cgroup.procs -exec cat {} + 2>/dev/null
		done <"$W/run-cgroups"
		for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo); do
			[ -d "$mnt/cgrouptest" ] && find "$mnt/cgrouptest" -name cgroup.procs -exec cat {} + 2>/dev/null
		done
	} | sort -un
}

# tap_results prints one line per assertion of a program's TAP output:
# "ok", "skip", "fail" or "hollow", a tab, and the assertion's description
# (or "#N" when it has none).
tap_results() {
	awk '
	function orphan() {
		if (pending_error != "") print "fail\terror: " pending_error
		pending_error = ""
	}
	/^  ---$/ { yaml = 1; stdout_empty = 0; has_stdout = 0; error = ""; next }
	yaml && /^  \.\.\.$/ {
		yaml = 0; last_yaml_hollow = (has_stdout && stdout_empty)
		# A diagnostic with an error that belongs to no assertion (neither
		# right after one nor right before one) is how several programs
		# (hooks, poststart, ...) report a failed MUST: count it.
		orphan()
		if (!after_test && error != "") pending_error = error
		after_test = 0
		next
	}
	yaml {
		if ($0 ~ /^    "stdout": /) { has_stdout = 1; if ($0 ~ /^    "stdout": ""/) stdout_empty = 1 }
		if ($0 ~ /^    "error": /) { error = $0; sub(/^    "error": "/, "", error); sub(/(\\n|",?$).*/, "", error) }
		next
	}
	/^(not )?ok( |$)/ {
		pending_error = ""
		after_test = 1
		line = $0
		verdict = (line ~ /^not ok/) ? "fail" : "ok"
		sub(/^(not )?ok */, "", line)
		n = line; sub(/[^0-9].*/, "", n)
		sub(/^[0-9]+ *(- *)?/, "", line)
		if (toupper(line) ~ /# *SKIP/) verdict = "skip"
		sub(/ *# *[Ss][Kk][Ii][Pp].*/, "", line)
		if (verdict == "ok" && last_yaml_hollow) verdict = "hollow"
		last_yaml_hollow = 0
		if (line == "") line = "#" n
		print verdict "\t" line
		next
	}
	{ orphan(); last_yaml_hollow = 0; after_test = 0 }
	END { orphan() }
	' "$1"
}

# program_failures NAME DIR prints the failure keys of program NAME from its
# results in DIR: "exit N", "no TAP", "hollow: DESC", "not ok: DESC".
program_failures() {
	local name="$1" dir="$2" rc
	rc="$(cat "$dir/$name.rc")"
	[ "$rc" = 0 ] || echo "exit $rc"
	if [ "$rc" = 0 ] && ! grep -qE '^(not )?ok|^1\.\.' "$dir/$name.out"; then
		echo "no TAP"
	fi
	awk -F'\t' '$1 == "fail" { print ($2 ~ /^error: / ? "" : "not ok: ") $2 } $1 == "hollow" { print "hollow: " $2 }' "$dir/$name.tap" | sort -u
}

# expected_for LABEL NAME prints "FAILURE<TAB>EVIDENCE" for every expected
# failure of program NAME with runtime LABEL.
expected_for() {
	awk -F'\t' -v rt="$1" -v prog="$2" '
	/^#/ || NF == 0 { next }
	NF != 5 || $5 !~ /^# ./ {
		print "expected-failures:" NR ": need RUNTIMES<TAB>PROGRAM<TAB>FAILURE<TAB>EVIDENCE<TAB># reason" > "/dev/stderr"
		exit 1
	}
	$2 == prog {
		n = split($1, rts, ",")
		for (i = 1; i <= n; i++) if (rts[i] == "all" || rts[i] == rt) { print $3 "\t" $4; break }
	}' "$EXPECTED"
}

# is_expected KEY EXPECTED OUT ERR succeeds when KEY is among the EXPECTED
# failures and its evidence (an extended regex, "-" for none) occurs in the
# program's OUT or ERR.
is_expected() {
	local key="$1" ek ev
	while IFS=$'\t' read -r ek ev; do
		[ "$ek" = "$key" ] || continue
		if [ "$ev" = "-" ] || grep -qE -- "$ev" "$3" "$4"; then
			return 0
		fi
	done <<<"$2"
	return 1
}

# run_pass LABEL REAL runs every validation program with runtime REAL.
run_pass() {
	local label="$1" real="$2" out root wrapper prog name rc start t0
	out="$W/$label"
	root="$W/state-$label"
	mkdir -p "$out" "$root" "$W/tmp"
	chmod 0755 "$W/tmp"
	wrapper="$(make_wrapper "$W/rt/$label/$(basename "$real")" "$real" "$W/calls-$label.log" --root "$root")"
	start=$SECONDS
	for prog in "$SUITE"/bin/*; do
		name="$(basename "$prog")"
		[[ "$name" =~ ${OCI_ONLY:-.} ]] || continue
		rc=0
		t0="$(date +%s%N)"
		(cd "$SUITE" && RUNTIME="$wrapper" TMPDIR="$W/tmp" timeout -k 5 "$PROGRAM_TIMEOUT" "$prog" \
			>"$out/$name.out" 2>"$out/$name.err" </dev/null) || rc=$?
		echo "$rc" >"$out/$name.rc"
		echo "$((($(date +%s%N) - t0) / 1000000))" >"$out/$name.ms"
		side_effects "$label" "$real" "$root" >"$out/$name.fx" 2>&1
		tap_results "$out/$name.out" >"$out/$name.tap"
	done
	echo "$((SECONDS - start))" >"$out/seconds"
}

# ns_pass LABEL REAL runs run_pass in a private mount namespace whose
# /sys/fs/cgroup also has the hugetlb hierarchy: crun 1.8 refuses to run
# without it, this VM does not mount it, and the hugetlb tests need it.
# Every runtime runs this way, so all see the same hierarchies, and nothing
# on the host changes (not even a directory on its cgroup tmpfs: other
# tools take a directory there for a mounted hierarchy).
ns_pass() {
	unshare --mount --propagation private -- "$0" __pass "$1" "$2" "$W" "$RUNID" ||
		echo "oci: the $1 pass failed" >&2
}

# ns_cgroups builds, inside the private namespace, a new /sys/fs/cgroup: a
# tmpfs holding bind mounts of the host's hierarchies plus hugetlb.
ns_cgroups() {
	local new="$W/cgroup-ns" d
	mkdir "$new"
	mount -t tmpfs -o mode=0755 cgroup-ns "$new"
	for d in $(awk '$5 ~ "^/sys/fs/cgroup/[^/]+$" && ($9 == "cgroup" || $9 == "cgroup2") { print $5 }' /proc/self/mountinfo); do
		mkdir "$new/${d##*/}"
		mount --bind "$d" "$new/${d##*/}"
	done
	if [ ! -d "$new/hugetlb" ]; then
		mkdir "$new/hugetlb"
		mount -t cgroup -o hugetlb cgroup "$new/hugetlb"
	fi
	mount --move "$new" /sys/fs/cgroup
	rmdir "$new"
}

# report prints the per-program table and the verdicts; it returns 1 when a
# runtime failed something not on the expected list.
report() {
	local labels=("$@") name label f key exp verdict line rc=0 cell
	local -A ok fail skip
	printf '%-34s' "program"
	for label in "${labels[@]}"; do printf ' %-22s' "$label ok/fail/skip"; done
	printf '\n'
	for prog in "$SUITE"/bin/*; do
		name="$(basename "$prog")"
		[[ "$name" =~ ${OCI_ONLY:-.} ]] || continue
		printf '%-34s' "$name"
		for label in "${labels[@]}"; do
			f="$W/$label"
			local o x s fl
			o="$(grep -c '^ok' "$f/$name.tap" || true)"
			s="$(grep -c '^skip' "$f/$name.tap" || true)"
			x="$(grep -cE '^(fail|hollow)' "$f/$name.tap" || true)"
			fl="$(program_failures "$name" "$f")"
			exp="$(expected_for "$label" "$name")"
			verdict=""
			if [ -n "$fl" ]; then
				verdict="xfail"
				while IFS= read -r key; do
					if ! is_expected "$key" "$exp" "$f/$name.out" "$f/$name.err"; then
						verdict="FAIL"
						echo "$label $name: $key" >>"$W/unexpected"
					fi
				done <<<"$fl"
			fi
			while IFS=$'\t' read -r key _; do
				[ -n "$key" ] || continue
				grep -qxF -- "$key" <<<"$fl" || echo "$label $name: $key" >>"$W/xpass"
			done <<<"$exp"
			ok[$label]=$((${ok[$label]:-0} + o))
			fail[$label]=$((${fail[$label]:-0} + x))
			skip[$label]=$((${skip[$label]:-0} + s))
			cell="$o/$x/$s"
			[ "$(cat "$f/$name.rc")" = 0 ] || cell+=" exit$(cat "$f/$name.rc")"
			grep -q '^no TAP$' <<<"$fl" && cell+=" noTAP"
			[ -n "$verdict" ] && cell+=" $verdict"
			printf ' %-22s' "$cell"
		done
		printf '\n'
	done
	printf '%-34s' "total assertions"
	for label in "${labels[@]}"; do printf ' %-22s' "${ok[$label]}/${fail[$label]}/${skip[$label]}"; done
	printf '\n%-34s' "seconds for the pass"
	for label in "${labels[@]}"; do printf ' %-22s' "$(cat "$W/$label/seconds")"; done
	printf '\n\n'
	echo "Cells: assertions ok/failed/skipped (failed includes in-container runs that produced no output);"
	echo "exitN: the program exited N; noTAP: it exited 0 without TAP; xfail: every failure is on the expected list;"
	echo "FAIL: a failure not on the list for that runtime."
	if [ -s "$W/unexpected" ]; then
		echo
		echo "Unexpected failures (not in $EXPECTED):"
		sed 's/^/  /' "$W/unexpected"
		rc=1
	fi
	if [ -s "$W/xpass" ]; then
		echo
		echo "Expected failures that did not fail (fine; the list may be stale for that runtime):"
		sed 's/^/  /' "$W/xpass"
	fi
	return "$rc"
}

main() {
	local specs=("$@") spec label real labels=() rc=0
	if [ "${#specs[@]}" -eq 0 ]; then
		specs=(runc=/usr/sbin/runc crun=/usr/bin/crun "plugbox=$REPO_DIR/bin/plugbox")
	fi
	clients_require_root
	expected_for check check >/dev/null || die "fix $EXPECTED"
	clients_apt runc crun jq >&2
	build_suite
	W="$(mktemp -d /run/clients-oci-XXXXXX)"
	# Containers with a user namespace must be able to reach their bundle.
	chmod 0755 "$W"
	RUNID="${W#/run/}"
	export W RUNID
	trap 'leave_run_cgroup; rm -rf --one-file-system "$W"' EXIT
	enter_run_cgroup
	for spec in "${specs[@]}"; do
		label="${spec%%=*}"
		real="${spec#*=}"
		[ -x "$real" ] || die "$label: $real is not an executable (run 'make build' for plugbox)"
		labels+=("$label")
		echo "oci: $label ($real): running $(ls "$SUITE/bin" | wc -l) validation programs" >&2
		ns_pass "$label" "$real"
		if [ ! -f "$W/$label/seconds" ]; then
			echo "oci: $label: the pass did not complete" >&2
			rc=1
			unset 'labels[-1]'
		fi
	done
	mkdir -p "$CLIENTS_LOG_DIR/oci"
	report "${labels[@]}" | tee "$CLIENTS_LOG_DIR/oci/table.txt" || rc=1
	for label in "${labels[@]}"; do
		rm -rf "$CLIENTS_LOG_DIR/oci/$label"
		[ -d "$W/$label" ] || continue
		cp -r "$W/$label" "$CLIENTS_LOG_DIR/oci/$label"
		cp "$W/calls-$label.log" "$CLIENTS_LOG_DIR/oci/$label.calls" 2>/dev/null || true
		calls_summary "$W/calls-$label.log" | sed 's/^ *[0-9]* [^:]*: *//' | sort | uniq -c >"$CLIENTS_LOG_DIR/oci/$label.summary" || true
		echo "oci: $label: $(cat "$W/$label"/*.fx | grep -c . || true) side effects cleaned up (see $CLIENTS_LOG_DIR/oci/$label/*.fx)" >&2
	done
	echo "oci: results, TAP and side effects in $CLIENTS_LOG_DIR/oci" >&2
	return "$rc"
}

# report_saved LABEL... judges the results of the last run, saved under
# CLIENTS_LOG_DIR/oci, against the current expected-failures.
report_saved() {
	local label rc=0
	W="$(mktemp -d)"
	for label in "$@"; do
		cp -r "$CLIENTS_LOG_DIR/oci/$label" "$W/$label" || die "no saved results for $label"
	done
	report "$@" || rc=1
	rm -rf "$W"
	return "$rc"
}

# Sourced (harness.bats), only the functions are wanted.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
set -euo pipefail
if [ "${1:-}" = --report ]; then
	shift
	report_saved "$@"
	exit
fi
if [ "${1:-}" = __pass ]; then
	# Internal: one pass inside a private mount namespace (ns_pass).
	W="$4"
	RUNID="$5"
	export W RUNID
	ns_cgroups
	# The hugetlb hierarchy may hold others' cgroups: afterwards remove only
	# the ones that appeared during the pass.
	find /sys/fs/cgroup/hugetlb -type d | sort >"$W/hugetlb-before"
	run_pass "$2" "$3"
	find /sys/fs/cgroup/hugetlb -type d | sort | comm -13 "$W/hugetlb-before" - | sort -r | while read -r d; do
		echo "cgroup $d" >>"$W/$2/zz-end.fx"
		rmdir "$d" 2>/dev/null || echo "cgroup $d could not be removed" >>"$W/$2/zz-end.fx"
	done
	exit 0
fi
main "$@"
