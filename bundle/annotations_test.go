package bundle

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAnnotations(t *testing.T) {
	a, err := ParseAnnotations(map[string]string{
		AnnotationAuthored:   "thumbs",
		AnnotationLandlock:   `{"readOnly":["/"],"readWrite":["/tmp"],"bestEffort":true}`,
		AnnotationTimeout:    "30s",
		AnnotationFDNames:    "input:output",
		AnnotationMonitor:    "violations",
		AnnotationCapsicum:   "true",
		AnnotationIDMap:      "auto",
		"com.example.other":  "left alone",
		"org.plugboxish.key": "not plugbox's namespace",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Annotations{
		Authored: "thumbs",
		Landlock: &LandlockPolicy{ReadOnly: []string{"/"}, ReadWrite: []string{"/tmp"}, BestEffort: true},
		Timeout:  30 * time.Second, FDNames: []string{"input", "output"},
		Monitor: MonitorViolations, AutoIDMap: true,
		FreeBSD: FreeBSDOptions{Capsicum: true},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
	if a, err := ParseAnnotations(nil); err != nil || !reflect.DeepEqual(a, &Annotations{}) {
		t.Errorf("no annotations: %+v, %v", a, err)
	}
}

func TestParseAnnotationsRefuses(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		// A bundle must not claim what plugbox enforces.
		{"org.plugbox.enforced.landlock", "abi 99", `annotations["org.plugbox.enforced.landlock"]: keys under org.plugbox.enforced. report what plugbox enforces`},
		{"org.plugbox.enforced.seccomp", "shim", "written only by 'plugbox state'"},
		{"org.plugbox.ended", "memory: killed by the memory limit (1M)", `annotations["org.plugbox.ended"]: this key says which limit ended or constrained the plugin`},
		{"org.plugbox.constrained", "pids: forged", "written only by 'plugbox state'"},
		{"org.plugbox.landlok", "{}", "unknown plugbox annotation"},
		{AnnotationLandlock, `{"readOnly":["/"],"readWrit":["/tmp"]}`, `unknown field "readWrit"`},
		{AnnotationLandlock, `{}{}`, "trailing data"},
		{AnnotationTimeout, "abc", "not a positive duration"},
		{AnnotationTimeout, "-1s", "not a positive duration"},
		{AnnotationFDNames, "a::b", "an empty descriptor name"},
		{AnnotationMonitor, "on", `use "violations"`},
		{AnnotationCapsicum, "yes", `"true" or "false"`},
		{AnnotationChildrenMax, "-1", "0 or more"},
		{"org.plugbox.freebsd.rctlx", "", "unknown plugbox annotation"},
		{AnnotationIDMap, "100000", `use "auto"`},
		{AnnotationAuthored, "", "give the plugin's name"},
	} {
		_, err := ParseAnnotations(map[string]string{tc.key: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: %v, want an error naming the key with %q", tc.key, tc.value, err, tc.want)
		}
	}
}

// A bundle plugbox writes must pass its own decoder.
func TestSpecAnnotationsParse(t *testing.T) {
	m := DefaultManifest()
	m.FDs = []string{"in"}
	for _, opts := range []SpecOptions{{}, {Rootless: true, HostUID: 1000, HostGID: 1000}, {IDMapBase: 200000}} {
		s, err := Spec(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAnnotations(s.Annotations)
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		if a.Authored != m.Name || a.Landlock == nil || a.Timeout <= 0 || len(a.FDNames) != 1 || a.AutoIDMap != (opts == SpecOptions{}) {
			t.Errorf("%+v: %+v", opts, a)
		}
	}
}
