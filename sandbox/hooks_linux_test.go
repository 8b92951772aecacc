package sandbox

import (
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPoststartFailureStopsFromRuntimeSpec130(t *testing.T) {
	for version, stops := range map[string]bool{
		"1.0.2": false, "1.0.2-dev": false, "1.1.0": false, "1.2.1": false,
		"1.3.0": true, "1.3.0-rc.1": true, "1.10.0": true, "2.0.0": true,
		"": true, "latest": true,
	} {
		if got := (&lateHooks{OCIVersion: version}).poststartFailureStops(); got != stops {
			t.Errorf("ociVersion %q: a failing poststart hook stops the container: %v, want %v", version, got, stops)
		}
	}
}

func TestTakeLateHooksLeavesLibcontainerTheOthers(t *testing.T) {
	hook := specs.Hook{Path: "/bin/true"}
	spec := &specs.Spec{Version: "1.0.2", Hooks: &specs.Hooks{Poststart: []specs.Hook{hook}, Poststop: []specs.Hook{hook, hook}, CreateRuntime: []specs.Hook{hook}}}
	cmd := configs.NewCommandHook(&configs.Command{Path: "/bin/true"})
	config := &configs.Config{Hooks: configs.Hooks{configs.Poststart: {cmd}, configs.Poststop: {cmd}, configs.CreateRuntime: {cmd}, configs.Prestart: {cmd}}}
	h := takeLateHooks(config, spec)
	if h == nil || len(h.Poststart) != 1 || len(h.Poststop) != 2 || h.OCIVersion != "1.0.2" {
		t.Fatalf("plugbox keeps %+v, want the poststart hook, both poststop hooks and the version", h)
	}
	if len(config.Hooks[configs.Poststart])+len(config.Hooks[configs.Poststop]) != 0 || len(config.Hooks[configs.CreateRuntime]) != 1 {
		t.Errorf("libcontainer is left %v: want only the createRuntime and prestart hooks", config.Hooks)
	}
	wrapPrestartHooks(config)
	c := config.Hooks[configs.Prestart][0].(configs.CommandHook).Command
	if c.Path != "/proc/self/exe" || len(c.Args) != 4 || c.Args[1] != HookStateArg || c.Args[2] != "/bin/true" || c.Args[3] != "/bin/true" {
		t.Errorf("the prestart hook runs as %s %q, want plugbox %s /bin/true /bin/true", c.Path, c.Args, HookStateArg)
	}
}
