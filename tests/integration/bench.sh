#!/usr/bin/env bash
# make bench: start-up and throughput of plugbox against crun, runc,
# bubblewrap and the unshare+chroot floor, in one interleaved run, then the
# start-up waterfall of plugbox, the create/start split with the time from
# start to the plugin's first instruction, 100 concurrent runs and the
# seccomp cost per call. Figures vary several-fold between machines: quote
# the ratios, which come from one interleaved run.
#
# ROUNDS (cold rounds, default 40), WARM (warm rounds, 20), CONCURRENT (100);
# BEFORE=/path/to/an/older/plugbox adds it to every comparison, for a
# before-and-after table from one interleaved run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PLUGBOX=${PLUGBOX:-$repo/bin/plugbox}
ROUNDS=${ROUNDS:-40}
WARM=${WARM:-20}
CONCURRENT=${CONCURRENT:-100}
CC=${CC:-cc}
work=$(mktemp -d /tmp/plugbox-bench.XXXXXX)
mounted_hugetlb=""
cleanup() {
	for rt in crun runc; do
		for id in $("$rt" --root "$work/$rt" list -q 2>/dev/null); do "$rt" --root "$work/$rt" delete -f "$id" >/dev/null 2>&1 || true; done
	done
	for id in $("$PLUGBOX" --root "$work/plugbox" list -q 2>/dev/null); do "$PLUGBOX" --root "$work/plugbox" delete -f "$id" >/dev/null 2>&1 || true; done
	if [ -n "${BEFORE:-}" ]; then
		for id in $("$BEFORE" --root "$work/before" list -q 2>/dev/null); do "$BEFORE" --root "$work/before" delete -f "$id" >/dev/null 2>&1 || true; done
	fi
	# The hugetlb hierarchy crun needed: removed again, as it was found.
	if [ -n "$mounted_hugetlb" ]; then
		umount /sys/fs/cgroup/hugetlb && rmdir /sys/fs/cgroup/hugetlb || echo "bench: could not unmount /sys/fs/cgroup/hugetlb" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT

for tool in crun runc bwrap unshare jq "$CC"; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs crun, runc and bubblewrap)" >&2; exit 1; }
done

# crun 1.8 refuses the hybrid cgroup layout while hugetlb sits on the v2
# tree; a v1 hugetlb hierarchy moves it off, for the bench only.
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
	mkdir -p /sys/fs/cgroup/hugetlb
	mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
	mounted_hugetlb=1
fi

(cd "$repo" && go build -o "$work/startbench" ./tests/integration/startbench)
sb="$work/startbench"
# The plugin that reports when it started (CLOCK_MONOTONIC at entry).
$CC -std=c11 -O2 -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector -fno-pie -no-pie \
	-Wl,--build-id=none -s -o "$work/firstinsn" "$here/bench/firstinsn.c"
# The reference profile (Docker's shape and size), as 'startbench profile'
# writes it; seccompgen's cost benchmark uses the same file.
cp "$here/testdata/reference-seccomp.json" "$work/reference-seccomp.json"

# plain: runc's starter spec around busybox; first: the same running firstinsn;
# ref: plain with the reference profile (Docker's shape and size).
mkdir -p "$work/plain/rootfs/bin" "$work/plain/rootfs/proc"
cp /bin/busybox "$work/plain/rootfs/bin/"
ln -s busybox "$work/plain/rootfs/bin/sh"
ln -s busybox "$work/plain/rootfs/bin/true"
cp "$work/firstinsn" "$work/plain/rootfs/firstinsn"
(cd "$work/plain" && runc spec)
jq '.process.terminal=false | .process.args=["/bin/true"]' "$work/plain/config.json" > "$work/c" && mv "$work/c" "$work/plain/config.json"
bundle_like() { # NAME JQ: a copy of plain with config.json edited
	mkdir -p "$work/$1"
	cp -a "$work/plain/rootfs" "$work/$1/rootfs"
	jq --slurpfile ref "$work/reference-seccomp.json" "$2" "$work/plain/config.json" > "$work/$1/config.json"
}
bundle_like ref '.linux.seccomp = $ref[0]'
bundle_like first '.process.args = ["/firstinsn"]'

# The same programs as plugbox-authored plugins: Landlock, the seccomp
# filter loaded by the exec shim, the violation monitor, a user namespace.
chmod 755 "$work"
echo '{"name": "bench", "command": ["/bin/busybox", "true"]}' > "$work/plugin.json"
echo '{"name": "first", "command": ["/firstinsn"]}' > "$work/first.json"
"$PLUGBOX" bundle init --exec /bin/busybox --manifest "$work/plugin.json" "$work/authored"
"$PLUGBOX" bundle init --exec "$work/firstinsn" --manifest "$work/first.json" "$work/authored-first"

echo "host: $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); spec_store_bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown)"
echo "plugbox $("$PLUGBOX" --version | cut -d' ' -f3-); $(runc --version | head -1); $(crun --version | head -1); $(bwrap --version)"
echo "state roots under $work ($(df --output=fstype "$work" | tail -1))"

pb="$PLUGBOX --root $work/plugbox"
cold_before=() warm_before=() conc_before=()
if [ -n "${BEFORE:-}" ]; then
	# The older binary needs its name to end in plugbox for startbench's
	# waterfall of its start; it gets a state root of its own.
	mkdir -p "$work/before-bin" && ln -s "$(readlink -f "$BEFORE")" "$work/before-bin/plugbox"
	BEFORE="$work/before-bin/plugbox"
	pbb="$BEFORE --root $work/before"
	echo "before: plugbox $("$BEFORE" --version | head -1 | cut -d' ' -f3-)"
	cold_before=("before:plugbox=$pbb run --bundle $work/plain {id}"
		"before:plugbox+ref-profile=$pbb run --bundle $work/ref {id}"
		"before:plugbox-authored=$pbb run --bundle $work/authored {id}")
	warm_before=("before:plugbox=$pbb::$work/first" "before:plugbox-authored=$pbb::$work/authored-first")
	conc_before=("before:plugbox=$pbb::$work/plain" "before:plugbox-authored=$pbb::$work/authored")
fi
echo
echo "== cold 'run' of true, whole-process wall time, ratios to crun without seccomp =="
"$sb" cold -n "$ROUNDS" -base crun \
	"crun=crun --root $work/crun run --bundle $work/plain {id}" \
	"crun+ref-profile=crun --root $work/crun run --bundle $work/ref {id}" \
	"runc=runc --root $work/runc run --bundle $work/plain {id}" \
	"runc+ref-profile=runc --root $work/runc run --bundle $work/ref {id}" \
	"plugbox=$pb run --bundle $work/plain {id}" \
	"plugbox+ref-profile=$pb run --bundle $work/ref {id}" \
	"plugbox-authored=$pb run --bundle $work/authored {id}" \
	"${cold_before[@]}" \
	"bubblewrap=bwrap --unshare-all --cap-drop ALL --ro-bind $work/plain/rootfs / --proc /proc --dev /dev /bin/true" \
	"floor=unshare -m -u -i -n -p -f --mount-proc=$work/plain/rootfs/proc chroot $work/plain/rootfs /bin/true"
echo "(ref-profile: $(jq '[.syscalls[].names | length] | add' "$work/reference-seccomp.json") calls in $(jq '.syscalls | length' "$work/reference-seccomp.json") rules, the shape and size of Docker's default)"

echo
echo "== where a plugbox start spends its time (PLUGBOX_TRACE) =="
"$sb" waterfall -n 10 \
	"plain=$pb run --bundle $work/first {id}" \
	"authored=$pb run --bundle $work/authored-first {id}"

echo
echo "== create, then start: the time from start to the plugin's first instruction =="
"$sb" warm -n "$WARM" -waterfall \
	"crun=crun --root $work/crun::$work/first" \
	"runc=runc --root $work/runc::$work/first" \
	"plugbox=$pb::$work/first" \
	"plugbox-authored=$pb::$work/authored-first" \
	"plugbox-library=lib:$pb::$work/first" \
	"plugbox-authored-library=lib:$pb::$work/authored-first" \
	"${warm_before[@]}"

echo
echo "== $CONCURRENT concurrent runs =="
"$sb" concurrent -c "$CONCURRENT" \
	"crun=crun --root $work/crun::$work/plain" \
	"runc=runc --root $work/runc::$work/plain" \
	"plugbox=$pb::$work/plain" \
	"plugbox-authored=$pb::$work/authored" \
	"${conc_before[@]}"

echo
echo "== seccomp cost per system call (getpid: argument-free allow, cached by the kernel; personality: argument-filtered) =="
(cd "$repo" && go test -tags seccomp -run '^$' -bench SyscallCost -benchtime 2000000x ./seccompgen/ | grep -E '^Benchmark')
echo "(docker: the reference profile; spec_store_bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown))"
