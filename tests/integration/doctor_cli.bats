#!/usr/bin/env bats
# plugbox doctor on this host and on a simulated host without Landlock;
# --help, manual pages and shell completion generated from the same
# command definitions.

load helpers

ROOTLESS_USER="${PLUGBOX_ROOTLESS_USER:-plugbox-test}"

setup() {
	plugbox_setup
}

teardown() {
	if [ -n "${RDIR:-}" ]; then
		rm -rf "$RDIR"
	fi
	plugbox_teardown
}

@test "doctor: this host offers every default layer; each line says what plugbox does with it" {
	run -0 pb doctor
	[[ "${lines[0]}" == "plugbox doctor: Linux "* ]]
	for name in "seccomp " "seccomp monitor" libseccomp landlock "exec shim" cgroups "rootless cgroups" /etc/subuid overlayfs spec_store_bypass "state root"; do
		grep -qE "^(ok|info|warn) +$name" <<<"$output" || {
			echo "no passing line for $name in:" >&2
			echo "$output" >&2
			return 1
		}
	done
	[[ "$output" != *MISSING* ]]
	# a warning or a missing feature always carries its fix
	while read -r line; do
		[[ "$line" != warn* ]] || [[ "$line" == *"; fix: "* ]]
	done <<<"$output"
	run -0 pb doctor --format json
	[ "$(jq -r '[.checks[] | select(.name == "landlock")][0].status' <<<"$output")" = ok ]
}

@test "doctor: on a host without Landlock (simulated) it says so with the fix and exits 1" {
	PLUGBOX_DOCTOR_SIMULATE=no-landlock run -1 pb doctor
	line="$(grep -E '^MISSING +landlock' <<<"$output")"
	[[ "$line" == *"authored plugins ask for it"* ]]
	[[ "$line" == *"; fix: use Linux 5.13 or later"*"lsm="*"\"bestEffort\""* ]]
	[[ "${lines[-1]}" == "plugbox doctor: 1 default layer(s) cannot be applied"* ]]
	# only that line changed
	[ "$(grep -c '^MISSING' <<<"$output")" = 1 ]
	PLUGBOX_DOCTOR_SIMULATE=no-landlok run -1 pb doctor
	error_line "PLUGBOX_DOCTOR_SIMULATE" "no-landlok" "tests only"
}

@test "doctor: a state root others can write is a missing layer, with the chmod that fixes it" {
	mkdir -m 0777 "$BATS_TEST_TMPDIR/open"
	chmod 0777 "$BATS_TEST_TMPDIR/open"
	run -1 "$PLUGBOX" --root "$BATS_TEST_TMPDIR/open" doctor
	[[ "$(grep '^MISSING *state root' <<<"$output")" == *"mode 0777; fix: group or others can write it"*"chmod 700 $BATS_TEST_TMPDIR/open"* ]]
}

@test "doctor: a rootless user without a delegated cgroup is told the limits cannot be applied, and how to delegate" {
	[ "$(id -u)" = 0 ] || skip "needs root to switch to the unprivileged user $ROOTLESS_USER"
	if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$ROOTLESS_USER"
	fi
	RDIR="$(mktemp -d /tmp/plugbox-doctor.XXXXXX)"
	chown "$ROOTLESS_USER:" "$RDIR"
	run -1 runuser -u "$ROOTLESS_USER" -- "$PLUGBOX" --root "$RDIR/root" doctor
	[[ "${lines[0]}" == *"(rootless)"* ]]
	[[ "$(grep '^MISSING *rootless cgroups' <<<"$output")" == *"cannot write its cgroup"*"; fix: "* ]]
	grep -qE '^ok +rootless user namespaces' <<<"$output"
}

@test "--help of every verb ends with examples of that verb" {
	verbs="$("$PLUGBOX" --generate-bash-completion | grep -vx -e help -e h)"
	[ "$(wc -l <<<"$verbs")" -ge 24 ]
	for verb in $verbs bundle\ init seccomp\ groups seccomp\ explain seccomp\ export; do
		out="$("$PLUGBOX" $verb --help)"
		examples="$(sed -n '/^EXAMPLES:$/,$p' <<<"$out" | tail -n +2)"
		if [ -z "$examples" ] || [ "$(tail -1 <<<"$out")" != "$(tail -1 <<<"$examples")" ]; then
			echo "plugbox $verb --help does not end with examples:" >&2
			echo "$out" >&2
			return 1
		fi
		grep -q "plugbox .*$verb" <<<"$examples"
	done
}

@test "man pages: plugbox(1) and one page per verb, with its options and examples" {
	run -0 "$PLUGBOX" man "$BATS_TEST_TMPDIR/man"
	[ -f "$BATS_TEST_TMPDIR/man/plugbox.1" ]
	for page in run doctor completion bundle-init seccomp-explain; do
		grep -q '^\.SH EXAMPLES' "$BATS_TEST_TMPDIR/man/plugbox-$page.1"
	done
	if command -v man >/dev/null; then
		run -0 man -l "$BATS_TEST_TMPDIR/man/plugbox-run.1"
		[[ "$output" == *"--bundle, -b BUNDLE"* ]]
		[[ "$output" == *"plugbox run --bundle ./jq-bundle job1"* ]]
	fi
}

@test "completion: bash completes verbs, flags and container IDs; zsh and fish scripts load" {
	script="$BATS_TEST_TMPDIR/plugbox.bash"
	"$PLUGBOX" completion bash >"$script"
	bindir="$(dirname "$PLUGBOX")"
	complete_words() {
		PATH="$bindir:$PATH" bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _plugbox_complete; echo "${COMPREPLY[*]}"' _ "$script" "$@"
	}
	[ "$(complete_words plugbox doc)" = doctor ]
	[ "$(complete_words plugbox run --bun)" = --bundle ]
	mkdir -p "$BATS_TEST_TMPDIR/cr/alpha"
	echo '{}' >"$BATS_TEST_TMPDIR/cr/alpha/state.json"
	[ "$(complete_words plugbox --root "$BATS_TEST_TMPDIR/cr" kill "")" = alpha ]
	"$PLUGBOX" completion zsh >"$BATS_TEST_TMPDIR/_plugbox"
	"$PLUGBOX" completion fish >"$BATS_TEST_TMPDIR/plugbox.fish"
	if command -v zsh >/dev/null; then
		zsh -n "$BATS_TEST_TMPDIR/_plugbox"
	fi
	if command -v fish >/dev/null; then
		run -0 --separate-stderr env PATH="$bindir:$PATH" fish -c "source $BATS_TEST_TMPDIR/plugbox.fish; complete -C 'plugbox doc'"
		grep -q "^doctor$(printf '\t')check what this host offers" <<<"$output" || {
			echo "fish completed: $output $stderr" >&2
			return 1
		}
	fi
	run -1 "$PLUGBOX" completion tcsh
	error_line "bash, zsh or fish"
}

@test "make install PREFIX=... installs the binary, the manual pages and the completion scripts" {
	repo="$BATS_TEST_DIRNAME/../.."
	[ "$PLUGBOX" -ef "$repo/bin/plugbox" ] || skip "PLUGBOX is not this checkout's bin/plugbox, which make install would rebuild"
	prefix="$BATS_TEST_TMPDIR/prefix"
	run -0 make -C "$repo" --no-print-directory install PREFIX="$prefix"
	[ -x "$prefix/bin/plugbox" ]
	[ -f "$prefix/share/man/man1/plugbox.1" ]
	[ -f "$prefix/share/man/man1/plugbox-bundle-init.1" ]
	[ -f "$prefix/share/bash-completion/completions/plugbox" ]
	[ -f "$prefix/share/zsh/site-functions/_plugbox" ]
	[ -f "$prefix/share/fish/vendor_completions.d/plugbox.fish" ]
	"$prefix/bin/plugbox" --version
}
