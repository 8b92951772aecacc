#!/usr/bin/env bats
# Kubernetes' path: containerd's CRI plugin runs pods with RUNTIME (default
# bin/plugbox) as the RuntimeClass handler "plugbox" (io.containerd.runc.v2
# with options.BinaryName), driven over the CRI gRPC API as the kubelet
# drives it: runp, create, start, exec (streamed and ExecSync), logs, stop,
# stopp, rmp. The same flow runs with the handler "runc" (Debian's runc) in
# the same containerd as the control.
# Validate with RUNTIME=/usr/sbin/runc: every check passes there.
#
# The client is tests/clients/criclient, which takes crictl's command line
# and builds in about a minute where crictl takes several on a cold
# machine. CRICTL=/path/to/crictl runs the same checks with crictl itself
# (`go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0`).
#
# Set-up (see docs/kubernetes.md): a private containerd with the CRI plugin
# (root, state and socket under $W), restrict_oom_score_adj (root lacks
# CAP_SYS_RESOURCE, so the pause container's -998 would fail), a local
# sandbox image whose command blocks (no registry is reachable), host-network
# pods (no CNI), and each pod's cgroup parent below the run's cgroup.

load lib
load containerd

IMG=localhost/clients-busybox:1
PAUSE_IMG=localhost/clients-pause:1

setup_file() {
	clients_apt containerd busybox-static jq
	clients_init cri
	CRI_CLIENT="$(cri_client)"
	export CRI_CLIENT
	CONTROL_RT="$(make_wrapper "$W/rt/control/runc" /usr/sbin/runc "$W/calls-control-runc.log")"
	export CONTROL_RT
	containerd_config "$(cri_config)"
	containerd_start
	CTR_NS=k8s.io ctr_ images import "$(image_archive "$IMG" '["/bin/sh"]')" >&2
	CTR_NS=k8s.io ctr_ images import "$(image_archive "$PAUSE_IMG" '["/bin/sleep","2147483647"]')" >&2
	# crictl reads /etc/crictl.yaml unless told otherwise.
	cat >"$W/crictl.yaml" <<-EOF
		runtime-endpoint: unix://$W/containerd.sock
		image-endpoint: unix://$W/containerd.sock
		timeout: 30
	EOF
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		if [ -f "$W/containerd.pid" ]; then
			cri rmp --force --all >/dev/null 2>&1
		fi
		ctr_clean k8s.io
		containerd_stop
		save_calls
		clean_run
	fi
}

# cri_client prints the CRI client to use: $CRICTL when set, else
# tests/clients/criclient built into the cache (a no-op when up to date).
cri_client() {
	if [ -n "${CRICTL:-}" ]; then
		command -v "$CRICTL"
		return
	fi
	local bin="$CLIENTS_CACHE/bin/criclient"
	mkdir -p "$CLIENTS_CACHE/bin"
	"$CLIENTS_DIR/criclient/build.sh" "$bin" >&2
	echo "$bin"
}

# cri_config prints the CRI plugin's section of the containerd config:
# handlers runc (the control) and plugbox (RUNTIME).
cri_config() {
	cat <<-EOF
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMG"
		  restrict_oom_score_adj = true
		  disable_apparmor = true
		  enable_selinux = false
		  disable_tcp_service = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    default_runtime_name = "runc"
		    snapshotter = "overlayfs"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        BinaryName = "$CONTROL_RT"
		        Root = "$W/runtime-root/runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.plugbox]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.plugbox.options]
		        BinaryName = "$RT"
		        Root = "$W/runtime-root/plugbox"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "$W/cni/bin"
		    conf_dir = "$W/cni/net.d"
		  [plugins."io.containerd.grpc.v1.cri".registry]
		    config_path = "$W/certs.d"
	EOF
}

# cri runs the CRI client against the private containerd.
cri() {
	if [ -n "${CRICTL:-}" ]; then
		timeout -k 5 60 "$CRI_CLIENT" --config "$W/crictl.yaml" "$@"
	else
		timeout -k 5 60 "$CRI_CLIENT" --runtime-endpoint "unix://$W/containerd.sock" --timeout 30s "$@"
	fi
}

# handler_real H prints the runtime binary behind handler H.
handler_real() {
	if [ "$1" = runc ]; then echo /usr/sbin/runc; else echo "$RT_REAL"; fi
}

# rt_state H ID prints handler H's runtime state of container ID.
rt_state() {
	"$(handler_real "$1")" --root "$W/runtime-root/$1/k8s.io" state "$2"
}

# pod_json H writes and prints the path of the pod config for handler H.
pod_json() {
	local f="$W/pod-$1.json"
	jq -n --arg name "pod-$1" --arg uid "$RUNID-$1" --arg logs "$W/logs-$1" --arg cg "/$RUNID/pod-$1" \
		'{metadata: {name: $name, namespace: "clients", uid: $uid, attempt: 1},
		  log_directory: $logs,
		  linux: {cgroup_parent: $cg, security_context: {namespace_options: {network: 2}}}}' >"$f"
	echo "$f"
}

# ctr_json H writes and prints the path of the container config: it says
# hello, then waits for SIGTERM and exits 42 on it.
ctr_json() {
	local f="$W/ctr-$1.json"
	jq -n --arg mark "$RUNID" --arg img "$IMG" \
		'{metadata: {name: "work"}, image: {image: $img}, log_path: "work.log",
		  command: ["sh", "-c", "trap \"exit 42\" TERM; echo hello from cri; while :; do sleep 0.1; done"],
		  envs: [{key: "CLIENTS_MARK", value: $mark}], linux: {}}' >"$f"
	echo "$f"
}

pod_of() { cat "$W/$1.pod"; }
ctr_of() { cat "$W/$1.ctr"; }

pod_state_is() {
	[ "$(cri inspectp "$(pod_of "$1")" | jq -r .status.state)" = "$2" ]
}

ctr_state_is() {
	[ "$(cri inspect "$(ctr_of "$1")" | jq -r .status.state)" = "$2" ]
}

step_runp() {
	local h="$1" pod
	run -0 cri runp --runtime "$h" "$(pod_json "$h")"
	pod="$output"
	echo "$pod" >"$W/$h.pod"
	pod_state_is "$h" SANDBOX_READY
	# The sandbox runs under the handler's runtime, in the pod's cgroup.
	run -0 rt_state "$h" "$pod"
	[ "$(jq -r .status <<<"$output")" = running ]
	pid="$(jq -r .pid <<<"$output")"
	grep -q ":pids:/$RUNID/pod-$h/" "/proc/$pid/cgroup"
}

step_create() {
	local h="$1"
	run -0 cri create "$(pod_of "$h")" "$(ctr_json "$h")" "$W/pod-$h.json"
	echo "$output" >"$W/$h.ctr"
	# containerd asks the runtime to create the container only at start.
	ctr_state_is "$h" CONTAINER_CREATED
}

step_start() {
	local h="$1" pid
	run -0 cri start "$(ctr_of "$h")"
	ctr_state_is "$h" CONTAINER_RUNNING
	pid="$(cri inspect "$(ctr_of "$h")" | jq -r .info.pid)"
	[ "$(cat "/proc/$pid/comm")" = sh ]
	grep -qx "CLIENTS_MARK=$RUNID" < <(tr '\0' '\n' <"/proc/$pid/environ")
	run -0 rt_state "$h" "$(ctr_of "$h")"
	[ "$(jq -r .status <<<"$output")" = running ]
}

step_exec() {
	local h="$1"
	# The pod shares one pid namespace: pid 1 is the sandbox's sleep.
	# The client exits 1 and names the command's exit code, as crictl does.
	run -1 cri exec "$(ctr_of "$h")" sh -c 'echo "pid1 is $(cat /proc/1/comm)"; exit 3'
	[ "${lines[0]}" = "pid1 is sleep" ]
	[[ "$output" == *"command terminated with exit code 3"* ]]
	run -0 cri exec --sync "$(ctr_of "$h")" sh -c 'echo "sync $CLIENTS_MARK"'
	[ "$output" = "sync $RUNID" ]
}

step_logs() {
	local h="$1"
	wait_for 10 eval 'cri logs "$(ctr_of '"$h"')" 2>/dev/null | grep -qx "hello from cri"'
	run -0 cri logs "$(ctr_of "$h")"
	[ "$output" = "hello from cri" ]
}

step_stop() {
	local h="$1" start=$SECONDS
	run -0 cri stop --timeout 10 "$(ctr_of "$h")"
	[ $((SECONDS - start)) -lt 8 ]
	ctr_state_is "$h" CONTAINER_EXITED
	[ "$(cri inspect "$(ctr_of "$h")" | jq -r .status.exitCode)" = 42 ]
	run -0 cri rm "$(ctr_of "$h")"
	run ! rt_state "$h" "$(ctr_of "$h")"
}

step_stopp() {
	local h="$1"
	run -0 cri stopp "$(pod_of "$h")"
	pod_state_is "$h" SANDBOX_NOTREADY
}

step_rmp() {
	local h="$1"
	run -0 cri rmp "$(pod_of "$h")"
	run -0 cri pods -q
	[[ "$output" != *"$(pod_of "$h")"* ]]
	run ! rt_state "$h" "$(pod_of "$h")"
	run -0 find "/sys/fs/cgroup/pids/$RUNID/pod-$h" -mindepth 1 -type d
	[ "$output" = "" ]
}

@test "cri: containerd with the CRI plugin is up, both handlers and the images known" {
	run -0 cri info
	jq -e '.config.containerd.runtimes | has("plugbox") and has("runc")' <<<"$output"
	run -0 cri images
	[[ "$output" == *localhost/clients-busybox* ]]
	[[ "$output" == *localhost/clients-pause* ]]
}

@test "cri runc: runp runs the pod sandbox" { step_runp runc; }
@test "cri runc: create a container in the pod" { step_create runc; }
@test "cri runc: start it" { step_start runc; }
@test "cri runc: exec into it, exit code returned" { step_exec runc; }
@test "cri runc: logs" { step_logs runc; }
@test "cri runc: stop (SIGTERM) and rm" { step_stop runc; }
@test "cri runc: stopp" { step_stopp runc; }
@test "cri runc: rmp" { step_rmp runc; }

@test "cri plugbox: runp runs the pod sandbox" { step_runp plugbox; }
@test "cri plugbox: create a container in the pod" { step_create plugbox; }
@test "cri plugbox: start it" { step_start plugbox; }
@test "cri plugbox: exec into it, exit code returned" { step_exec plugbox; }
@test "cri plugbox: logs" { step_logs plugbox; }
@test "cri plugbox: stop (SIGTERM) and rm" { step_stop plugbox; }
@test "cri plugbox: stopp" { step_stopp plugbox; }
@test "cri plugbox: rmp" { step_rmp plugbox; }

@test "cri: no pods, containers, shims, runtime state, mounts or cgroups left" {
	cri rmp --force --all >/dev/null 2>&1 || true
	run -0 cri pods -q
	[ "$output" = "" ]
	run -0 cri ps -a -q
	[ "$output" = "" ]
	containerd_stop
	run -0 leaks
	# The pod-level cgroups (the pods' cgroup_parent) are the kubelet's to
	# create and remove, not containerd's or the runtime's; clean_run
	# removes them. Anything below them is a leak.
	output="$(grep -vE "^cgroup: /sys/fs/cgroup/[a-z,=0-9]+/$RUNID/pod-(runc|plugbox)\$" <<<"$output" || true)"
	echo "$output"
	[ "$output" = "" ]
}
