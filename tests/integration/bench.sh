#!/usr/bin/env bash
# make bench: start-up of `run` of /bin/true in one busybox bundle, plugbox
# against runc and crun (Debian's), interleaved; then seccomp cost per syscall.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PLUGBOX=${PLUGBOX:-$here/../../bin/plugbox}
ROUNDS=${ROUNDS:-40}
work=$(mktemp -d /tmp/plugbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# crun 1.8 refuses the hybrid cgroup layout until hugetlb leaves the v2 tree.
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
	mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
fi

(cd "$here/../.." && go build -o "$work/startbench" ./tests/integration/startbench)
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc"
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in sh true; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
(cd "$work/bundle" && runc spec)
jq '.process.terminal=false | .process.args=["/bin/true"]' "$work/bundle/config.json" > "$work/c" && mv "$work/c" "$work/bundle/config.json"

# The same /bin/true as a plugbox-authored plugin: Landlock, the seccomp
# filter loaded by the exec shim, and the violation-log monitor on top.
chmod 755 "$work"
echo '{"name": "bench", "command": ["/bin/busybox", "true"]}' > "$work/plugin.json"
"$PLUGBOX" bundle init --exec /bin/busybox --manifest "$work/plugin.json" "$work/authored"

echo "host: $(uname -r), $(nproc) cores; spec_store_bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown)"
echo "runc: $(runc --version | head -1); crun: $(crun --version | head -1)"
echo
echo "== cold 'run' of /bin/true, whole-process wall time =="
cd "$work/bundle"
"$work/startbench" -n "$ROUNDS" -base runc \
	"runc=runc --root $work/runc run b\$\$" \
	"crun=crun --root $work/crun run b\$\$" \
	"plugbox=$PLUGBOX --root $work/plugbox run b\$\$" \
	"plugbox-authored=$PLUGBOX --root $work/plugbox run --bundle $work/authored a\$\$" \
	"floor=unshare -m -u -i -n -p -f --mount-proc=$work/bundle/rootfs/proc chroot $work/bundle/rootfs /bin/true"

echo
echo "== seccomp cost per system call (getpid: argument-free allow; personality: argument-filtered) =="
(cd "$here/../.." && go test -tags "seccomp" -run '^$' -bench SyscallCost -benchtime 2000000x ./seccompgen/ | grep -E 'Benchmark|spec_store')
