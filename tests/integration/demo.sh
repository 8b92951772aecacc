#!/usr/bin/env bash
# make demo: author a plugin bundle around busybox, run it sandboxed, and
# show escapes being refused and named in the violation log.
set -euo pipefail
PLUGBOX=${1:-$(dirname "$0")/../../bin/plugbox}
work=$(mktemp -d /tmp/plugbox-demo.XXXXXX)
chmod 755 "$work" # the sandbox root maps to an unprivileged host uid that must enter it
root="$work/state"
trap '"$PLUGBOX" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. A plugin manifest: only what the plugin needs"
mkdir -p "$work/data" && echo "hello from the host" > "$work/data/greeting.txt"
cat > "$work/plugin.json" <<JSON
{
  "name": "demo",
  "command": ["/bin/busybox", "sh", "$work/data/plugin.sh"],
  "read": ["$work/data"],
  "network": "none",
  "syscalls": ["base", "fs-read", "fs-write", "process"],
  "limits": {"memory": "64M", "pids": 32, "timeout": "20s"}
}
JSON
cat > "$work/data/plugin.sh" <<'SH'
data=$(dirname "$0")
echo "plugin: I can read my input: $(cat $data/greeting.txt)"
echo "plugin: I am uid $(id -u), caps: $(grep CapEff /proc/self/status | cut -f2), seccomp mode $(grep Seccomp: /proc/self/status | cut -f2)"
echo "plugin: now trying to escape..."
cat /etc/shadow 2>/dev/null && echo "  read /etc/shadow: ESCAPED" || echo "  read the host's /etc/shadow: refused (not in the sandbox)"
echo x > $data/greeting.txt 2>/dev/null && echo "  overwrite input: ESCAPED" || echo "  overwrite my read-only input: refused"
busybox mount -t tmpfs x /tmp 2>/dev/null && echo "  mount: ESCAPED" || echo "  mount a filesystem: refused"
busybox unshare -U true 2>/dev/null && echo "  unshare: ESCAPED" || echo "  create a user namespace: refused"
busybox nc 127.0.0.1 22 </dev/null 2>/dev/null && echo "  network: ESCAPED" || echo "  open an internet socket: refused"
SH
cat "$work/plugin.json"

say "2. plugbox bundle init: rootfs around /bin/busybox + hardened config.json"
"$PLUGBOX" bundle init "$work/bundle" --exec /bin/busybox --manifest "$work/plugin.json"
find "$work/bundle/rootfs" -maxdepth 2 | sed "s|$work/||" | head -12
echo "$ plugbox check bundle"
"$PLUGBOX" check "$work/bundle" || true

say "3. plugbox run: the plugin in its sandbox"
"$PLUGBOX" --root "$root" run --keep --bundle "$work/bundle" demo || true

say "4. plugbox violations: every denied system call, named"
"$PLUGBOX" --root "$root" violations demo | sed 's/^[^ ]* //' | grep -v -E ' (prctl|setgid|setuid)\(' || true
"$PLUGBOX" --root "$root" delete demo
echo
echo "Done: the plugin read its input; every escape above was refused."
