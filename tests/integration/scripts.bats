#!/usr/bin/env bats
# Script plugins: bundle init recognises the interpreter (the program
# itself, or a script's #! line, also through /usr/bin/env) and binds what
# it loads from read-only, so a manifest that names only the interpreter
# and the script runs.

load helpers

PYTHON=/usr/bin/python3

setup() {
	plugbox_setup
	[ "$(id -u)" = 0 ] || skip "authored bundles map the sandbox to host uid 100000+, which needs root"
	SRC="$BATS_TEST_TMPDIR/src"
	mkdir "$SRC"
}

teardown() {
	plugbox_teardown
}

need_python() {
	[ -x "$PYTHON" ] || skip "Debian's python3 is missing: apt-get install python3"
}

@test "python: a #!/usr/bin/env python3 script runs with its standard library, bound read-only" {
	need_python
	cat >"$SRC/plugin.py" <<-'PY'
	#!/usr/bin/env python3
	import hashlib, json, os, sys
	print(json.dumps({"sha": hashlib.sha256(b"plugbox").hexdigest()[:12], "uid": os.getuid(), "args": sys.argv[1:]}))
	lib = os.path.dirname(os.__file__)
	try:
	    open(os.path.join(lib, "planted.py"), "w")
	    print("wrote into", lib)
	except OSError as e:
	    print("stdlib read-only:", e.strerror)
	PY
	chmod 755 "$SRC/plugin.py"
	cat >"$SRC/plugin.json" <<-JSON
	{"name": "py", "command": ["/bin/plugin.py", "one", "two"]}
	JSON
	run -0 --separate-stderr "$PLUGBOX" bundle init --exec "$SRC/plugin.py" --manifest "$SRC/plugin.json" "$BATS_TEST_TMPDIR/py"
	stdlib="$("$PYTHON" -I -S -c 'import os; print(os.path.dirname(os.__file__))')"
	[[ "$stderr" == *"bound read-only for the interpreter: $stdlib"* ]]
	# the interpreter env finds, and the stdlib a bind (not a copy)
	[ -x "$BATS_TEST_TMPDIR/py/rootfs/usr/bin/python3" ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/py/rootfs$stdlib")" ]
	run -0 --separate-stderr pb run --bundle "$BATS_TEST_TMPDIR/py" "$(cid py)"
	sha="$(printf plugbox | sha256sum | cut -c1-12)"
	[ "${lines[0]}" = "{\"sha\": \"$sha\", \"uid\": 1000, \"args\": [\"one\", \"two\"]}" ]
	[[ "${lines[1]}" == "stdlib read-only: "* ]]
	[ ! -e "$stdlib/planted.py" ]
}

@test "python: a manifest naming the interpreter and a script in a read path runs" {
	need_python
	mkdir "$SRC/app"
	cat >"$SRC/app/main.py" <<-'PY'
	import sqlite3, sys
	db = sqlite3.connect(":memory:")
	print("sqlite", db.execute("select 6*7").fetchone()[0], sys.executable)
	PY
	cat >"$SRC/plugin.json" <<-JSON
	{"name": "pyapp", "command": ["$PYTHON", "$SRC/app/main.py"], "read": ["$SRC/app"]}
	JSON
	"$PLUGBOX" bundle init --exec "$PYTHON" --manifest "$SRC/plugin.json" "$BATS_TEST_TMPDIR/pyapp"
	run -0 pb run --bundle "$BATS_TEST_TMPDIR/pyapp" "$(cid pyapp)"
	[ "$output" = "sqlite 42 $PYTHON" ]
}

@test "perl: a #!/usr/bin/perl script runs with its XS modules from @INC, bound read-only" {
	[ -x /usr/bin/perl ] || skip "Debian's perl is missing: apt-get install perl (make deps does)"
	cat >"$SRC/plugin.pl" <<-'PL'
	#!/usr/bin/perl
	use strict;
	use List::Util qw(sum);
	use POSIX qw(floor);
	use Digest::SHA qw(sha256_hex);
	my ($lib) = grep { -f "$_/List/Util.pm" } @INC;
	my $w = open(my $fh, '>', "$lib/planted.pm") ? "wrote into $lib" : "lib read-only: $!";
	print "perl ", sum(1 .. 4), " ", floor(2.7), " ", substr(sha256_hex("plugbox"), 0, 12), "\n$w\n";
	PL
	chmod 755 "$SRC/plugin.pl"
	echo '{"name": "pl", "command": ["/bin/plugin.pl"]}' >"$SRC/plugin.json"
	"$PLUGBOX" bundle init --exec "$SRC/plugin.pl" --manifest "$SRC/plugin.json" "$BATS_TEST_TMPDIR/pl"
	run -0 --separate-stderr pb run --bundle "$BATS_TEST_TMPDIR/pl" "$(cid pl)"
	sha="$(printf plugbox | sha256sum | cut -c1-12)"
	[ "${lines[0]}" = "perl 10 2 $sha" ]
	[[ "${lines[1]}" == "lib read-only: "* ]]
	lib="$(perl -e 'my ($l) = grep { -f "$_/List/Util.pm" } @INC; print $l')"
	[ ! -e "$lib/planted.pm" ]
}

@test "lua: a #!/usr/bin/lua5.4 script runs" {
	[ -x /usr/bin/lua5.4 ] || skip "Debian's lua5.4 is missing: apt-get install lua5.4 (make deps does)"
	cat >"$SRC/plugin.lua" <<-'LUA'
	#!/usr/bin/lua5.4
	local t = {}
	for w in string.gmatch(arg[1], "%a+") do t[#t + 1] = w:upper() end
	table.sort(t)
	print(_VERSION, table.concat(t, ","), math.floor(2.7), os.getenv("HOME"))
	LUA
	chmod 755 "$SRC/plugin.lua"
	echo '{"name": "lua", "command": ["/bin/plugin.lua", "b a c"]}' >"$SRC/plugin.json"
	"$PLUGBOX" bundle init --exec "$SRC/plugin.lua" --manifest "$SRC/plugin.json" "$BATS_TEST_TMPDIR/lua"
	run -0 --separate-stderr pb run --bundle "$BATS_TEST_TMPDIR/lua" "$(cid lua)"
	[ "$output" = "Lua 5.4	A,B,C	2	/tmp" ]
}

@test "shell: a #!/bin/sh script and a #!/bin/busybox sh script run" {
	cat >"$SRC/dash.sh" <<-'SH'
	#!/bin/sh
	read -r line
	printf 'dash got: %s; %s\n' "$line" "$(echo from a subshell)"
	SH
	cat >"$SRC/bb.sh" <<-'SH'
	#!/bin/busybox sh
	echo "busybox sh: $0 $*"
	SH
	chmod 755 "$SRC/dash.sh" "$SRC/bb.sh"
	# dash forks for the command substitution: the manifest grants "process".
	cat >"$SRC/dash.json" <<-JSON
	{"name": "dash", "command": ["/bin/dash.sh"], "syscalls": ["base", "fs-read", "process"]}
	JSON
	"$PLUGBOX" bundle init --exec "$SRC/dash.sh" --manifest "$SRC/dash.json" "$BATS_TEST_TMPDIR/dash"
	"$PLUGBOX" bundle init --exec "$SRC/bb.sh" "$BATS_TEST_TMPDIR/bb"
	run -0 pb run --bundle "$BATS_TEST_TMPDIR/dash" "$(cid dash)" <<<"hello"
	[ "$output" = "dash got: hello; from a subshell" ]
	run -0 pb run --bundle "$BATS_TEST_TMPDIR/bb" "$(cid bb)"
	[[ "${lines[0]}" = "busybox sh: /bin/bb.sh " ]]
}

@test "bundle init says what it copies: a summary line, and with -v each file and bind as it goes" {
	need_python
	run -0 --separate-stderr "$PLUGBOX" bundle init --exec "$PYTHON" "$BATS_TEST_TMPDIR/quiet"
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" = 1 ]
	[[ "$stderr" =~ ^plugbox:\ bundle\ init:\ .*/quiet:\ copied\ [0-9]+\ files\ \([0-9.]+\ MB\)\;\ bound\ read-only\ for\ the\ interpreter:\ /usr/lib/python3 ]]
	run -0 --separate-stderr "$PLUGBOX" bundle init -v --exec "$PYTHON" "$BATS_TEST_TMPDIR/loud"
	libc="$(grep -m1 '^plugbox: bundle init: copy .*/libc.so.6 ' <<<"$stderr")"
	[[ "$libc" == *"MB, needed by "* ]]
	grep -q "^plugbox: bundle init: copy $PYTHON to /bin/python3 (.* MB, the plugin)$" <<<"$stderr"
	grep -q "^plugbox: bundle init: bind /usr/lib/python3[.0-9]* (python3's library directory, read-only)$" <<<"$stderr"
	# one line per file copied, as the summary counts them
	copies="$(grep -c '^plugbox: bundle init: copy ' <<<"$stderr")"
	[[ "${stderr##*$'\n'}" == *": copied $copies files ("* ]]
	# (plus /etc/passwd, /etc/group and /etc/hosts, which it writes)
	[ "$((copies + 3))" = "$(find "$BATS_TEST_TMPDIR/loud/rootfs" -type f | wc -l)" ]
}
