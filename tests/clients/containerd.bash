# A private containerd for containerd.bats and cri.bats: its own root, state,
# gRPC socket and config under $W, started by the suite and stopped at its
# end. Load after lib.bash.

CTR_NS=clients

# containerd_config CRI_SECTION writes $W/containerd.toml. CRI_SECTION is the
# TOML of the CRI plugin, or empty to disable that plugin.
containerd_config() {
	local cri="$1" disabled='"io.containerd.grpc.v1.cri", '
	[ -n "$cri" ] && disabled=""
	mkdir -p "$W/containerd-root" "$W/containerd-state" "$W/opt" "$W/fifo"
	cat >"$W/containerd.toml" <<-EOF
		version = 2
		root = "$W/containerd-root"
		state = "$W/containerd-state"
		# Snapshotters this VM cannot or need not use, and the tracing and
		# restart plugins: nothing outside \$W.
		disabled_plugins = [$disabled"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing", "io.containerd.internal.v1.restart"]

		[grpc]
		  address = "$W/containerd.sock"
		[ttrpc]
		  address = "$W/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$W/opt"
		$cri
	EOF
}

# containerd_start starts containerd on $W/containerd.toml and waits until
# it answers.
containerd_start() {
	# The shims put their sockets in /run/containerd/s whatever the state
	# directory; remove that directory afterwards if this run created it.
	[ -e /run/containerd ] || touch "$W/remove-run-containerd"
	containerd --config "$W/containerd.toml" </dev/null >"$W/containerd.log" 2>&1 3>&- &
	echo $! >"$W/containerd.pid"
	if ! wait_for 20 ctr_ version >/dev/null 2>&1; then
		echo "containerd did not answer on $W/containerd.sock within 20 s; its log:" >&2
		tail -20 "$W/containerd.log" >&2
		return 1
	fi
}

# containerd_stop stops the private containerd (SIGTERM, then SIGKILL).
containerd_stop() {
	local pid
	pid="$(cat "$W/containerd.pid" 2>/dev/null)" || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_for 10 eval '! kill -0 '"$pid"' 2>/dev/null' || kill -9 "$pid" 2>/dev/null
	rm -f "$W/containerd.pid"
	if [ -e "$W/remove-run-containerd" ]; then
		rmdir /run/containerd/s /run/containerd 2>/dev/null || true
	fi
	return 0
}

# ctr_ runs ctr against the private containerd.
ctr_() {
	timeout -k 5 "${CTR_TIMEOUT:-60}" ctr --address "$W/containerd.sock" --namespace "$CTR_NS" "$@"
}

# ctr_clean deletes every task and container of namespace NS (default
# CTR_NS) in the private containerd.
ctr_clean() {
	local ns="${1:-$CTR_NS}" c
	[ -f "$W/containerd.pid" ] || return 0
	for c in $(ctr --address "$W/containerd.sock" -n "$ns" task ls -q 2>/dev/null); do
		ctr --address "$W/containerd.sock" -n "$ns" task kill -s KILL "$c" >/dev/null 2>&1
		ctr --address "$W/containerd.sock" -n "$ns" task delete -f "$c" >/dev/null 2>&1
	done
	for c in $(ctr --address "$W/containerd.sock" -n "$ns" containers ls -q 2>/dev/null); do
		ctr --address "$W/containerd.sock" -n "$ns" containers delete "$c" >/dev/null 2>&1
	done
}
