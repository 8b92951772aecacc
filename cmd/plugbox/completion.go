package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionCommand prints a completion script for bash, zsh or fish. The
// bash and zsh scripts ask plugbox itself (--generate-bash-completion) for
// the verbs, flags and container IDs at the cursor; the fish one is
// generated from the same command definitions.
var completionCommand = &cli.Command{
	Name:      "completion",
	Usage:     "print a shell completion script: bash, zsh or fish",
	ArgsUsage: "bash|zsh|fish",
	Description: `Install it where your shell loads completions: 'make install' puts all three
   below PREFIX/share (bash-completion, zsh site-functions, fish
   vendor_completions.d).`,
	Action: func(ctx *cli.Context) error {
		switch shell := ctx.Args().First(); shell {
		case "bash":
			fmt.Print(bashCompletion)
		case "zsh":
			fmt.Print(zshCompletion)
		case "fish":
			script, err := ctx.App.ToFishCompletion()
			if err != nil {
				return fmt.Errorf("completion fish: %w", err)
			}
			fmt.Print(script)
		default:
			return fmt.Errorf("completion: want bash, zsh or fish, got %q: usage: plugbox completion bash|zsh|fish", shell)
		}
		return nil
	},
}

// bashCompletion completes from what plugbox prints for the words before
// the cursor followed by --generate-bash-completion.
const bashCompletion = `# bash completion for plugbox (plugbox completion bash)
_plugbox_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}" words
	if [[ "$cur" == -* ]]; then
		words="$("${COMP_WORDS[@]:0:COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)"
	else
		words="$("${COMP_WORDS[@]:0:COMP_CWORD}" --generate-bash-completion 2>/dev/null)"
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _plugbox_complete plugbox
`

// zshCompletion does the same for zsh, falling back to file names.
const zshCompletion = `#compdef plugbox
# zsh completion for plugbox (plugbox completion zsh)
_plugbox() {
	local cur=${words[CURRENT]}
	local -a candidates
	if [[ "$cur" == -* ]]; then
		candidates=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
	else
		candidates=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n "${candidates[1]}" ]]; then
		compadd -- "${candidates[@]}"
	else
		_files
	fi
}
if [[ "${funcstack[1]}" == _plugbox ]]; then
	_plugbox "$@"
else
	compdef _plugbox plugbox
fi
`

// completeIDs completes a verb's container ID argument with the IDs under
// --root, and its flags once the user types a dash.
func completeIDs(ctx *cli.Context) {
	if ctx.NArg() > 0 {
		return
	}
	b, err := backend(ctx)
	if err != nil {
		return
	}
	ids, err := b.List()
	if err != nil {
		return
	}
	for _, id := range ids {
		fmt.Fprintln(os.Stdout, id)
	}
}

// addCompletion gives every verb whose first argument is a container ID
// the completion of IDs, keeping urfave/cli's flag completion.
func addCompletion(cmds []*cli.Command) {
	for _, c := range cmds {
		if strings.HasPrefix(c.ArgsUsage, "ID") && c.BashComplete == nil {
			flags := cli.DefaultCompleteWithFlags(c)
			c.BashComplete = func(ctx *cli.Context) {
				if len(os.Args) > 2 && strings.HasPrefix(os.Args[len(os.Args)-2], "-") {
					flags(ctx)
					return
				}
				completeIDs(ctx)
			}
		}
		addCompletion(c.Subcommands)
	}
}
