#!/usr/bin/env bats
# Bundles shaped the way podman, containerd's CRI and the OCI validation
# suite send them: a seccomp profile without process.noNewPrivileges, the
# default capabilities, /proc mounted. plugbox must behave as runc does.

load helpers

setup() {
	plugbox_setup
}

teardown() {
	plugbox_teardown
}

# client_profile writes a client-style profile (allow by default, a few
# calls denied, x86 architectures listed as podman does) into the bundle,
# with noNewPrivileges unset.
client_profile() {
	jq_config "$BUNDLE" '.process.noNewPrivileges = false
		| .linux.seccomp = {
			defaultAction: "SCMP_ACT_ALLOW",
			architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			syscalls: [
				{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1},
				{names: ["socketcall", "_llseek"], action: "SCMP_ACT_ALLOW"}
			]}'
}

@test "a seccomp profile without noNewPrivileges is loaded and enforced, as runc does" {
	make_bundle "$BUNDLE" sh -c 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status; mkdir /tmp/x 2>&1; echo done'
	client_profile
	run -0 pb run --bundle "$BUNDLE" "$(cid nnp)"
	[[ "$output" == *"NoNewPrivs:"*"0"* ]]
	[[ "$output" == *"Seccomp:"*"2"* ]]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *"done" ]]
}

@test "create then start of a client bundle runs its program" {
	make_bundle "$BUNDLE" sh -c 'echo program-ran'
	client_profile
	run -0 pb_bg create --bundle "$BUNDLE" "$(cid cs)"
	run -0 pb start "$(cid cs)"
	wait_status "$(cid cs)" stopped
	wait_file_line "$(ctr_out "$(cid cs)")" program-ran
	run -0 pb delete "$(cid cs)"
}

@test "plugbox's layers with noNewPrivileges false fail create, naming the field" {
	make_bundle "$BUNDLE" true
	jq_config "$BUNDLE" '.process.noNewPrivileges = false
		| .annotations["org.plugbox.landlock"] = "{\"readOnly\": [\"/\"]}"'
	run -1 pb run --bundle "$BUNDLE" "$(cid ll)"
	error_line "process.noNewPrivileges" "org.plugbox.landlock"
	root_empty
}
