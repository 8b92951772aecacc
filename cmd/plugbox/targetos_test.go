package main

import (
	"strings"
	"testing"

	"github.com/plugbox/plugbox/bundle"
)

// F5: on FreeBSD, root's state lives under /var/run (emptied at boot), not
// in a /run directory created on the persistent root file system.
func TestSystemRoot(t *testing.T) {
	if got := systemRoot("freebsd"); got != "/var/run/plugbox" {
		t.Errorf("FreeBSD root %q", got)
	}
	if got := systemRoot("linux"); got != "/run/plugbox" {
		t.Errorf("Linux root %q", got)
	}
}

func TestAuthoredSpecOS(t *testing.T) {
	s, err := authoredSpec("freebsd", bundle.DefaultManifest(), bundle.SpecOptions{})
	if err != nil || s.FreeBSD == nil || s.Linux != nil || s.Annotations[bundle.AnnotationCapsicum] != "true" {
		t.Errorf("freebsd: %v %+v", err, s)
	}
	s, err = authoredSpec("linux", bundle.DefaultManifest(), bundle.SpecOptions{})
	if err != nil || s.Linux == nil || s.FreeBSD != nil {
		t.Errorf("linux: %v", err)
	}
	if _, err := authoredSpec("plan9", bundle.DefaultManifest(), bundle.SpecOptions{}); err == nil || !strings.Contains(err.Error(), `--os "plan9"`) {
		t.Errorf("plan9: %v", err)
	}
	if err := initBundle("plan9", t.TempDir(), "/bin/true", nil, bundle.InitOptions{}); err == nil || !strings.Contains(err.Error(), "--os") {
		t.Errorf("plan9 init: %v", err)
	}
}
