package bundle

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/broker"
)

func brokerManifest(b *broker.Spec, groups ...string) *Manifest {
	m := DefaultManifest()
	m.Broker = b
	if groups != nil {
		m.Syscalls = groups
	}
	return m
}

// TestBrokerSectionErrors: bad rules fail validation (and so bundle init)
// with one line naming the field.
func TestBrokerSectionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Manifest
		want string
	}{
		{"relative", brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "in/a.png", Access: "read"}}}), `broker.open[0].path "in/a.png" is relative`},
		{"dot-dot", brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "/srv/in/../../etc/shadow", Access: "read"}}}), `broker.open[0].path "/srv/in/../../etc/shadow" contains ".."`},
		{"glob spanning directories", brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "/srv/*/x", Access: "read"}}}), `a glob may only be in the last component`},
		{"unknown access", brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "/srv/in/x", Access: "rw"}}}), `broker.open[0].access "rw"`},
		{"malformed address", brokerManifest(&broker.Spec{Connect: []string{"tcp:localhost"}}, "net-client"), `broker.connect[0]: "tcp:localhost"`},
		{"connect without sockets", brokerManifest(&broker.Spec{Connect: []string{"tcp:127.0.0.1:80"}}), `broker.connect needs sockets and connect(2): add "net-client"`},
		{"host system files writable", brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "/etc/", Access: "create"}}}), `broker.open[0].path "/etc/"`},
		{"runtime socket", brokerManifest(&broker.Spec{Connect: []string{"unix:/run/docker.sock"}}, "net-client"), `broker.connect[0] "unix:/run/docker.sock"`},
		{"fd name taken", func() *Manifest {
			m := brokerManifest(&broker.Spec{Open: []broker.OpenSpec{{Path: "/srv/in/x", Access: "read"}}})
			m.FDs = []string{"broker"}
			return m
		}(), `fds[0] is "broker", the name plugbox gives the broker's socket`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is more than one line: %q", err)
			}
		})
	}
}

// TestSpecCarriesBrokerRules: bundle init writes the rules once, in their
// canonical form, as an annotation create decodes; the plugin's
// LISTEN_FDNAMES end with "broker"; tcp destinations let a network "none"
// plugin make inet sockets (its namespace stays empty).
func TestSpecCarriesBrokerRules(t *testing.T) {
	m := brokerManifest(&broker.Spec{
		Open:    []broker.OpenSpec{{Path: "/srv/in/*.png", Access: "read"}, {Path: "/srv/out/", Access: "create"}},
		Connect: []string{"tcp:127.0.0.1:8080"},
	}, "base", "fs-read", "net-client")
	m.FDs = []string{"jobs"}
	spec, err := Spec(m, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw := spec.Annotations[AnnotationBroker]
	if !strings.Contains(raw, `"mode":"0600"`) {
		t.Errorf("annotation %s = %s: the create mode is not spelled out", AnnotationBroker, raw)
	}
	ann, err := ParseAnnotations(spec.Annotations)
	if err != nil || ann.Broker == nil || len(ann.Broker.Open) != 2 || len(ann.Broker.Connect) != 1 {
		t.Fatalf("ParseAnnotations = %+v, %v", ann, err)
	}
	if !slices.Contains(spec.Process.Env, "LISTEN_FDNAMES=jobs:broker") || !slices.Contains(spec.Process.Env, "LISTEN_FDS=2") {
		t.Errorf("env %v lacks the broker descriptor", spec.Process.Env)
	}
	if spec.Annotations[AnnotationFDNames] != "jobs" {
		t.Errorf("the host still passes only its own descriptors: %s = %q", AnnotationFDNames, spec.Annotations[AnnotationFDNames])
	}
	var families []uint64
	for _, r := range spec.Linux.Seccomp.Syscalls {
		if slices.Contains(r.Names, "socket") && len(r.Args) == 1 {
			families = append(families, r.Args[0].Value)
		}
	}
	if !slices.Contains(families, 2) || !slices.Contains(families, 10) {
		t.Errorf("socket families %v: a brokered tcp connect needs AF_INET and AF_INET6 sockets", families)
	}
	if !slices.ContainsFunc(spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("a network \"none\" plugin lost its own network namespace")
	}

	// A hand-edited annotation is checked again at create.
	spec.Annotations[AnnotationBroker] = `{"open":[{"path":"/srv/../etc/shadow","access":"read"}]}`
	if _, err := ParseAnnotations(spec.Annotations); err == nil || !strings.Contains(err.Error(), AnnotationBroker) || !strings.Contains(err.Error(), `".."`) {
		t.Errorf("ParseAnnotations of a bad broker annotation = %v", err)
	}

	// check lists every rule.
	spec.Annotations[AnnotationBroker] = raw
	var found []string
	for _, f := range Check(spec, "") {
		if strings.HasPrefix(f.Field, "annotations["+AnnotationBroker+"]") {
			found = append(found, f.String())
		}
	}
	if len(found) != 3 || !strings.Contains(strings.Join(found, "\n"), "/srv/in/*.png") || !strings.Contains(strings.Join(found, "\n"), "tcp:127.0.0.1:8080") {
		t.Errorf("check's broker findings:\n%s", strings.Join(found, "\n"))
	}
}
