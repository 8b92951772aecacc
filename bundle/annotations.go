package bundle

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/plugbox/plugbox/broker"
)

// Annotation keys plugbox reads from config.json. runtime-spec has no field
// for these layers, so they travel as annotations (documented in README.md).
const (
	// AnnotationLandlock holds a JSON LandlockPolicy applied to the plugin
	// process right before its execve.
	AnnotationLandlock = "org.plugbox.landlock"
	// AnnotationCapsicum, set to "true", makes the FreeBSD backend enter
	// Capsicum capability mode before the plugin runs (see docs/freebsd.md).
	AnnotationCapsicum = "org.plugbox.capsicum"
	// AnnotationTimeout is the plugin's wall-clock limit as a Go duration
	// ("30s"); plugbox run kills the container when it is exceeded.
	AnnotationTimeout = "org.plugbox.timeout"
	// AnnotationFDNames lists, colon-separated, the names of the descriptors
	// the host must pass with --preserve-fds (exported as LISTEN_FDNAMES).
	AnnotationFDNames = "org.plugbox.fdnames"
	// AnnotationMonitor, set to "violations", routes the calls the seccomp
	// profile denies to plugbox's listener, which answers EPERM and logs
	// each one (plugbox violations ID).
	AnnotationMonitor = "org.plugbox.monitor"
	// AnnotationAuthored marks a config.json written by plugbox bundle init;
	// its value is the manifest's plugin name.
	AnnotationAuthored = "org.plugbox.authored"
	// AnnotationBinds holds a JSON list of AuthoredBind: the manifest's read
	// and write paths as bundle init resolved them, which VerifyBinds
	// checks again at every create.
	AnnotationBinds = "org.plugbox.binds"
	// AnnotationBroker holds the manifest's broker section (broker.Spec as
	// JSON): the host files and connections the plugin may ask plugbox
	// for, transparently (its own open and connect, on Linux) or over the
	// descriptor named "broker".
	AnnotationBroker = "org.plugbox.broker"
)

// LandlockPolicy lists the paths, as seen inside the container, that the
// plugin may use once Landlock is enforced; everything else is denied.
type LandlockPolicy struct {
	// ReadOnly paths may be read and executed (files and directories below).
	ReadOnly []string `json:"readOnly,omitempty"`
	// ReadWrite paths may also be written, created and removed.
	ReadWrite []string `json:"readWrite,omitempty"`
	// BestEffort, when true, runs without Landlock on kernels that lack it;
	// when false such a start fails closed.
	BestEffort bool `json:"bestEffort,omitempty"`
}

// ParseLandlock decodes the AnnotationLandlock value of annotations, or
// returns nil when it is absent.
func ParseLandlock(annotations map[string]string) (*LandlockPolicy, error) {
	raw, ok := annotations[AnnotationLandlock]
	if !ok {
		return nil, nil
	}
	var p LandlockPolicy
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("config.json: annotations[%q]: %w", AnnotationLandlock, err)
	}
	return &p, nil
}

// ParseTimeout decodes the AnnotationTimeout value of annotations; ok is
// false when it is absent. A value that is not a positive Go duration is an
// error naming the annotation.
func ParseTimeout(annotations map[string]string) (limit time.Duration, ok bool, err error) {
	raw, ok := annotations[AnnotationTimeout]
	if !ok {
		return 0, false, nil
	}
	limit, err = time.ParseDuration(raw)
	if err != nil || limit <= 0 {
		return 0, true, fmt.Errorf("annotation %s: %q is not a positive duration such as \"30s\"", AnnotationTimeout, raw)
	}
	return limit, true, nil
}

// ParseBroker decodes the AnnotationBroker value of annotations, checking
// every rule again, or returns nil when it is absent.
func ParseBroker(annotations map[string]string) (*broker.Policy, error) {
	raw, ok := annotations[AnnotationBroker]
	if !ok {
		return nil, nil
	}
	p, err := broker.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("config.json: annotations[%q]: %w", AnnotationBroker, err)
	}
	return p, nil
}
