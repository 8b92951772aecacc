package main

// examples are the one or two command lines that end each verb's --help
// (and its manual page), keyed by the verb's path. Every verb has some: a
// unit test walks the commands.
var examples = map[string][]string{
	"create":     {"plugbox create --bundle ./b --pid-file c1.pid c1", "plugbox create --bundle ./b --console-socket /run/c1-tty.sock c1"},
	"start":      {"plugbox start c1"},
	"run":        {"plugbox run --bundle ./jq-bundle job1", "plugbox run --detach --bundle ./b --pid-file svc.pid svc1"},
	"state":      {"plugbox state c1", "plugbox state c1 | jq -r '.annotations[\"org.plugbox.ended\"]'"},
	"list":       {"plugbox list", "plugbox --root /run/plugbox list --format json"},
	"kill":       {"plugbox kill c1 TERM", "plugbox kill --all c1 KILL"},
	"delete":     {"plugbox delete c1", "plugbox delete --force c1"},
	"ps":         {"plugbox ps c1", "plugbox ps --format json c1"},
	"exec":       {"plugbox exec c1 /bin/busybox ls /", "plugbox exec --process process.json --detach --pid-file e1.pid c1"},
	"pause":      {"plugbox pause c1"},
	"resume":     {"plugbox resume c1"},
	"update":     {"plugbox update --memory 128M --pids-limit 32 c1", "plugbox update --resources limits.json c1"},
	"events":     {"plugbox events --stats c1", "plugbox events --interval 2s c1"},
	"checkpoint": {"plugbox checkpoint c1   # refused: plugbox does not checkpoint sandboxes"},
	"restore":    {"plugbox restore c1   # refused: plugbox does not restore sandboxes"},
	"spec":       {"plugbox spec --bundle ./b", "plugbox spec --plugin plugin.json --bundle ./b"},
	"features":   {"plugbox features | jq .linux.seccomp.actions"},
	"violations": {"plugbox violations c1", "plugbox violations --follow --format json c1"},
	"bundle":     {"plugbox bundle init ./jq-bundle --exec /usr/bin/jq --manifest plugin.json"},
	"bundle init": {
		"plugbox bundle init ./jq-bundle --exec /usr/bin/jq --manifest plugin.json",
		"plugbox bundle init ./py-bundle --exec ./plugin.py -v",
	},
	"check":           {"plugbox check ./jq-bundle"},
	"seccomp":         {"plugbox seccomp groups -v"},
	"seccomp groups":  {"plugbox seccomp groups", "plugbox seccomp groups -v"},
	"seccomp export":  {"plugbox seccomp export ./b --format pfc", "plugbox seccomp export ./b --format bpf -o filter.bpf"},
	"seccomp explain": {"plugbox seccomp explain ./b ptrace", "plugbox seccomp explain ./b socket"},
	"seccomp actions": {"plugbox seccomp actions"},
	"hook":            {"plugbox hook check < state.json   # a runtime runs it as a createRuntime hook, the state on stdin"},
	"hook check":      {"plugbox hook check < state.json   # in config.json: hooks.createRuntime [{path: /usr/local/bin/plugbox, args: [plugbox, hook, check]}]"},
	"hook record":     {"plugbox hook record --dir /var/log/plugbox < state.json   # as a createRuntime hook, the state on stdin"},
	"trace":           {"plugbox trace --bundle ./b -o learned.json", "plugbox trace --bundle ./b --apply -- --input sample.txt"},
	"doctor":          {"plugbox doctor", "plugbox doctor --format json | jq '.checks[] | select(.status != \"ok\")'"},
	"completion":      {"plugbox completion bash > /etc/bash_completion.d/plugbox", "source <(plugbox completion zsh)"},
}
