package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/plugbox/plugbox/internal/mangen"
)

// visible walks the app's verbs (subcommands too) with their paths.
func visible(cmds []*cli.Command, parent string, fn func(path string, c *cli.Command)) {
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		path := strings.TrimSpace(parent + " " + c.Name)
		fn(path, c)
		visible(c.Subcommands, path, fn)
	}
}

// captureStdout runs fn with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()
	fn()
	os.Stdout = old
	w.Close()
	return <-done
}

// Every verb's --help ends with its examples, each a command line of
// that verb.
func TestEveryVerbHelpEndsWithExamples(t *testing.T) {
	app := newApp()
	seen := map[string]bool{}
	visible(app.Commands, "", func(path string, c *cli.Command) {
		seen[path] = true
		out := captureStdout(t, func() {
			app := newApp()
			app.Writer = os.Stdout
			args := append([]string{"plugbox"}, strings.Fields(path)...)
			_ = app.Run(append(args, "--help"))
		})
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		at := -1
		for i, l := range lines {
			if l == "EXAMPLES:" {
				at = i
			}
		}
		if at < 0 || at == len(lines)-1 {
			t.Errorf("plugbox %s --help has no EXAMPLES section at its end:\n%s", path, out)
			return
		}
		for _, ex := range lines[at+1:] {
			if !strings.Contains(ex, "plugbox "+path) && !strings.Contains(ex, "plugbox --root /run/plugbox "+path) {
				t.Errorf("plugbox %s: example %q does not run plugbox %s", path, ex, path)
			}
		}
		if text, _ := splitDescription(c.Description); strings.Contains(text, "\n      ") {
			t.Errorf("plugbox %s: description keeps a double indentation", path)
		}
	})
	for path := range examples {
		if !seen[path] {
			t.Errorf("examples[%q] names no verb", path)
		}
	}
}

func TestSplitDescription(t *testing.T) {
	desc := withExamples("First line\n   second line.\n\n   Next paragraph.", []string{"plugbox run x", "plugbox run y"})
	text, ex := splitDescription(desc)
	if text != "First line\nsecond line.\n\nNext paragraph." {
		t.Errorf("text %q", text)
	}
	if strings.Join(ex, "|") != "plugbox run x|plugbox run y" {
		t.Errorf("examples %q", ex)
	}
	if text, ex := splitDescription("no examples"); text != "no examples" || ex != nil {
		t.Errorf("no examples: %q, %q", text, ex)
	}
}

// The manual has plugbox(1) and a page per verb, each with its options and
// examples, rendered from the same definitions as --help.
func TestManPages(t *testing.T) {
	app := newApp()
	pages := manPages(app)
	byName := map[string]mangen.Page{}
	for _, p := range pages {
		byName[p.Name] = p
	}
	visible(app.Commands, "", func(path string, c *cli.Command) {
		name := "plugbox-" + strings.ReplaceAll(path, " ", "-")
		p, ok := byName[name]
		if !ok {
			t.Errorf("no page %s", name)
			return
		}
		if len(p.Examples) == 0 {
			t.Errorf("%s has no examples", name)
		}
		if len(p.Options) < len(c.VisibleFlags()) {
			t.Errorf("%s lists %d options, the verb has %d", name, len(p.Options), len(c.VisibleFlags()))
		}
	})
	var buf bytes.Buffer
	if err := mangen.Render(&buf, byName["plugbox-run"]); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH PLUGBOX\\-RUN 1", ".SH OPTIONS", "\\fB\\-\\-bundle\\fR, \\fB\\-b\\fR \\fIBUNDLE\\fR", ".SH EXAMPLES", "plugbox run \\-\\-bundle ./jq\\-bundle job1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("plugbox-run(1) lacks %q:\n%s", want, buf.String())
		}
	}
	if top, ok := byName["plugbox"]; !ok || len(top.Commands) < 20 || len(top.SeeAlso) != len(pages)-1 {
		t.Errorf("plugbox(1): %d commands, %d see-also for %d pages", len(top.Commands), len(top.SeeAlso), len(pages))
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "complete -o bashdefault -o default -F _plugbox_complete plugbox",
		"zsh":  "#compdef plugbox",
		"fish": "complete -r -c plugbox -n '__fish_plugbox_no_subcommand' -a 'run'",
	} {
		out := captureStdout(t, func() {
			if err := newApp().Run([]string{"plugbox", "completion", shell}); err != nil {
				t.Errorf("completion %s: %v", shell, err)
			}
		})
		if !strings.Contains(out, want) {
			t.Errorf("completion %s lacks %q:\n%.400s", shell, want, out)
		}
	}
	if err := newApp().Run([]string{"plugbox", "completion", "tcsh"}); err == nil || !strings.Contains(err.Error(), "bash, zsh or fish") {
		t.Errorf("completion tcsh: %v", err)
	}
	// What the bash and zsh scripts ask for: the verbs. (urfave/cli looks
	// at os.Args for the word before the cursor.)
	saved := os.Args
	os.Args = []string{"plugbox", "--generate-bash-completion"}
	defer func() { os.Args = saved }()
	verbs := captureStdout(t, func() { _ = newApp().Run(os.Args) })
	for _, v := range []string{"run", "doctor", "completion", "bundle"} {
		if !strings.Contains("\n"+verbs, "\n"+v+"\n") {
			t.Errorf("completion of verbs lacks %s:\n%s", v, verbs)
		}
	}
	if strings.Contains("\n"+verbs, "\nman\n") {
		t.Error("the hidden man verb is offered")
	}
}

// A verb taking a container ID completes the IDs under --root.
func TestCompletionOfContainerIDs(t *testing.T) {
	root := t.TempDir()
	for _, id := range []string{"alpha", "beta"} {
		if err := os.MkdirAll(root+"/"+id, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+"/"+id+"/state.json", []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"plugbox", "--root", root, "kill", "--generate-bash-completion"}
	saved := os.Args
	os.Args = args
	defer func() { os.Args = saved }()
	out := captureStdout(t, func() { _ = newApp().Run(args) })
	if out != "alpha\nbeta\n" {
		t.Errorf("IDs completed: %q", out)
	}
}
