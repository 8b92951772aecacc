#!/usr/bin/env bats
# Socket-less plugins share one empty network namespace (sandbox/netns_linux.go):
# the start skips making one. Only plugins whose filter denies every socket
# call share it; the namespace plugbox joins is checked, not trusted.

load helpers

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "the shared namespace is a bind mount under /run, which needs root"
	AUTHORED=$(mktemp -d /tmp/plugbox-netns.XXXXXX)
	chmod 755 "$AUTHORED"
	probe="readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
	cat > "$AUTHORED/none.json" <<-JSON
	{"name": "none", "command": ["/bin/busybox", "sh", "-c", "$probe"], "syscalls": ["base", "fs-read", "process"]}
	JSON
	cat > "$AUTHORED/unix.json" <<-JSON
	{"name": "unix", "command": ["/bin/busybox", "sh", "-c", "$probe"], "syscalls": ["base", "fs-read", "process", "net-client"]}
	JSON
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$AUTHORED/none.json" "$AUTHORED/none"
	"$PLUGBOX" bundle init --exec "$BUSYBOX" --manifest "$AUTHORED/unix.json" "$AUTHORED/unix"
	HOSTNET=$(readlink /proc/self/ns/net)
}

teardown() {
	plugbox_teardown
	rm -rf "$AUTHORED"
}

netns_of() { # BUNDLE NAME: the plugin's network namespace and devices, one line
	pb run --keep --bundle "$AUTHORED/$1" "$(cid "$2")" 2>/dev/null | tr '\n' ' '
}

network_of() {
	pb state "$(cid "$1")" | jq -r '.annotations["org.plugbox.enforced.network"] // "own"'
}

@test "two socket-less plugins share an empty namespace that is not the host's; a plugin with sockets gets its own" {
	a=$(netns_of none a)
	b=$(netns_of none b)
	[ "$a" = "$b" ]
	[[ "$a" == "net:["*"] lo " ]] # only the loopback device
	[[ "$a" != "$HOSTNET "* ]]
	[ "$(network_of a)" = shared ]
	# socket(AF_UNIX) allowed: names and netlink would be shared, so not.
	u=$(netns_of unix u)
	[[ "$u" != "${a%% *} "* && "$u" != "$HOSTNET "* ]]
	[ "$(network_of u)" = own ]
	grep -q ' /run/plugbox-netns/none .* nsfs ' /proc/self/mountinfo
	for n in a b u; do pb delete "$(cid "$n")"; done
}

@test "a namespace planted at the shared path is refused: the plugin gets its own, not the host's" {
	# Make sure the real one exists, then put the host's namespace there.
	netns_of none first >/dev/null
	pb delete "$(cid first)"
	umount /run/plugbox-netns/none
	mount --bind /proc/self/ns/net /run/plugbox-netns/none
	got=$(netns_of none planted)
	umount /run/plugbox-netns/none
	[[ "$got" != "$HOSTNET "* ]]
	[ "$(network_of planted)" = own ]
	pb delete "$(cid planted)"
	# plugbox makes a proper one again.
	again=$(netns_of none again)
	[ "$(network_of again)" = shared ]
	[[ "$again" != "$HOSTNET "* ]]
	pb delete "$(cid again)"
}
