package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func writeFile(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The suite's configs decode as crictl decodes them: snake_case names,
// enums as numbers, environment values as strings.
func TestReadConfig(t *testing.T) {
	var pod runtimeapi.PodSandboxConfig
	p := writeFile(t, `{"metadata": {"name": "pod-x", "uid": "u1"}, "log_directory": "/l",
		"linux": {"cgroup_parent": "/run1/pod-x", "security_context": {"namespace_options": {"network": 2}}}}`)
	if err := readConfig(p, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.GetMetadata().GetName() != "pod-x" || pod.GetLogDirectory() != "/l" || pod.GetLinux().GetCgroupParent() != "/run1/pod-x" ||
		pod.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		t.Errorf("decoded %v", &pod)
	}
	var ctr runtimeapi.ContainerConfig
	p = writeFile(t, `{"metadata": {"name": "work"}, "image": {"image": "localhost/x:1"}, "log_path": "work.log",
		"command": ["sh", "-c", "true"], "envs": [{"key": "CLIENTS_MARK", "value": "run1"}]}`)
	if err := readConfig(p, &ctr); err != nil {
		t.Fatal(err)
	}
	if env := ctr.GetEnvs(); len(env) != 1 || env[0].GetKey() != "CLIENTS_MARK" || string(env[0].GetValue()) != "run1" {
		t.Errorf("envs %v", env)
	}
}

func TestReadConfigRefusesUnknownFields(t *testing.T) {
	var pod runtimeapi.PodSandboxConfig
	p := writeFile(t, `{"metadata": {"name": "x"}, "log_dir": "/l"}`)
	err := readConfig(p, &pod)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"log_dir"`) {
		t.Fatalf("error %v, want one naming %s and the field", err, p)
	}
}

// Usage errors end with status 2 and a line saying what to fix, before any
// connection is tried.
func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{}, ""},
		{[]string{"-r", "unix:///x", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"info"}, "--runtime-endpoint is required"},
		{[]string{"-r", "tcp://1.2.3.4:1", "info"}, "only unix:///PATH sockets"},
		{[]string{"-r", "unix:///x", "rmp"}, "give pod IDs or --all"},
		{[]string{"-r", "unix:///x", "rmp", "--all", "p1"}, "give pod IDs or --all"},
		{[]string{"-r", "unix:///x", "create", "p1", "c.json"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		err := run(tc.args, &stdout, &stderr)
		ee, ok := err.(*exitError)
		if !ok || ee.Code != 2 || !strings.Contains(ee.Msg, tc.msg) {
			t.Errorf("%q: error %#v, want exit 2 with %q", tc.args, err, tc.msg)
		}
		if tc.msg == "" && !strings.Contains(stderr.String(), "usage: criclient") {
			t.Errorf("%q: stderr %q, want the usage", tc.args, stderr.String())
		}
	}
}
