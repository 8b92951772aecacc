package bundle

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/broker"
	"github.com/plugbox/plugbox/seccompgen"
)

// Annotation keys plugbox reads from config.json. runtime-spec has no field
// for these layers, so they travel as annotations (documented in README.md).
// ParseAnnotations decodes all of them, once.
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
	// profile fails with an errno to plugbox's listener, which answers that
	// errno and logs each one (plugbox violations ID); "audit" routes the
	// SCMP_ACT_LOG ones too, which the listener lets run and logs.
	AnnotationMonitor = "org.plugbox.monitor"
	// AnnotationViolations holds the manifest's violation policy as JSON,
	// {"onViolation": ..., "syscallActions": {...}}, so that the profile
	// trace learns keeps it.
	AnnotationViolations = "org.plugbox.violations"
	// AnnotationAuthored marks a config.json written by plugbox bundle init;
	// its value is the manifest's plugin name.
	AnnotationAuthored = "org.plugbox.authored"
	// AnnotationIDMap, set to "auto", asks the runtime (run as root) to give
	// the sandbox's user namespace its own range of SandboxIDs host ids,
	// taken from plugbox's range at create and freed at delete; config.json
	// then has no linux.uidMappings or gidMappings.
	AnnotationIDMap = "org.plugbox.idmap"
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

// EnforcedPrefix starts the keys `plugbox state` adds to report what it
// really enforces; a config.json must not carry them, or it could claim
// protection it does not have.
const EnforcedPrefix = "org.plugbox.enforced."

// Keys `plugbox state` adds to say which limit ended or constrained the
// plugin; like the enforced ones, a config.json must not carry them.
const (
	// AnnotationEnded is "CAUSE: DETAIL", e.g. "memory: killed by the
	// memory limit (64M)".
	AnnotationEnded = "org.plugbox.ended"
	// AnnotationConstrained names a limit that refused the plugin
	// something without ending it, e.g. "pids: the pids limit (16) refused
	// 40 new processes or threads".
	AnnotationConstrained = "org.plugbox.constrained"
)

// annotationPrefix is plugbox's namespace: every key below it must be known.
const annotationPrefix = "org.plugbox."

// IDMapAuto is the AnnotationIDMap value that asks for an allocated range.
const IDMapAuto = "auto"

// Monitor modes of AnnotationMonitor.
const (
	MonitorViolations = "violations"
	MonitorAudit      = "audit"
	MonitorLearning   = "learning"
)

// Annotations is plugbox's part of a config.json's annotations, decoded and
// checked once. The zero value is a bundle that asks for none of plugbox's
// layers (one a client such as podman sends).
type Annotations struct {
	// Authored is the plugin's name when plugbox bundle init wrote the
	// bundle, "" otherwise.
	Authored string
	// Landlock is the policy applied before the plugin's execve, or nil.
	Landlock *LandlockPolicy
	// Timeout is the plugin's wall-clock limit, 0 for none.
	Timeout time.Duration
	// FDNames are the descriptors the host passes with --preserve-fds, in
	// order; nil when the bundle names none.
	FDNames []string
	// Monitor is "", MonitorViolations, MonitorAudit or MonitorLearning.
	Monitor string
	// Violations is the violation policy bundle init recorded, or nil.
	Violations *seccompgen.Policy
	// AutoIDMap asks for a host id range allocated per sandbox.
	AutoIDMap bool
	// Binds are the read and write paths as bundle init resolved them.
	Binds []AuthoredBind
	// FreeBSD are the FreeBSD backend's annotations (Capsicum, rctl, ...).
	FreeBSD FreeBSDOptions
	// Broker are the broker rules, checked again; nil when there are none.
	Broker *broker.Policy
}

// ParseAnnotations decodes plugbox's keys of a config.json's annotations
// (callers add the file's name to errors).
// Keys outside org.plugbox. are the bundle's own and left alone; an unknown
// org.plugbox. key, a key plugbox reports itself (org.plugbox.enforced.*)
// and a value that does not parse are errors naming the key and the fix.
func ParseAnnotations(annotations map[string]string) (*Annotations, error) {
	var a Annotations
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same key is reported first every time
	for _, key := range keys {
		if !strings.HasPrefix(key, annotationPrefix) {
			continue
		}
		value := annotations[key]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("annotations[%q] = %q: %s", key, value, fmt.Sprintf(format, args...))
		}
		switch key {
		case AnnotationAuthored:
			if value == "" {
				return nil, bad("give the plugin's name, or remove the key")
			}
			a.Authored = value
		case AnnotationLandlock:
			p, err := decodeLandlock(value)
			if err != nil {
				return nil, bad("%v: regenerate it with 'plugbox spec --plugin' or 'plugbox bundle init'", err)
			}
			a.Landlock = p
		case AnnotationTimeout:
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return nil, bad(`not a positive duration: write one such as "30s"`)
			}
			a.Timeout = d
		case AnnotationFDNames:
			names := strings.Split(value, ":")
			for _, n := range names {
				if n == "" {
					return nil, bad(`an empty descriptor name: list names separated by ':', e.g. "input:output"`)
				}
			}
			a.FDNames = names
		case AnnotationMonitor:
			if value != MonitorViolations && value != MonitorAudit && value != MonitorLearning {
				return nil, bad("use %q, %q (which routes SCMP_ACT_LOG calls too) or %q (as plugbox trace does)", MonitorViolations, MonitorAudit, MonitorLearning)
			}
			a.Monitor = value
		case AnnotationViolations:
			var p seccompgen.Policy
			if err := json.Unmarshal([]byte(value), &p); err != nil {
				return nil, bad("%v: regenerate it with 'plugbox bundle init', or remove the key", err)
			}
			a.Violations = &p
		case AnnotationCapsicum, AnnotationRctl, AnnotationChildrenMax, AnnotationSecurelevel, AnnotationTrapCap:
			// Decoded together below: they depend on each other.
		case AnnotationIDMap:
			if value != IDMapAuto {
				return nil, bad("use %q, or remove the key and write linux.uidMappings and gidMappings yourself", IDMapAuto)
			}
			a.AutoIDMap = true
		case AnnotationBinds:
			b, err := ParseBinds(annotations)
			if err != nil {
				return nil, err
			}
			a.Binds = b
		case AnnotationBroker:
			p, err := broker.Decode(value)
			if err != nil {
				return nil, fmt.Errorf("annotations[%q]: %w: regenerate it with 'plugbox bundle init'", key, err)
			}
			a.Broker = p
		case AnnotationEnded, AnnotationConstrained:
			return nil, fmt.Errorf("annotations[%q]: this key says which limit ended or constrained the plugin and is written only by 'plugbox state': remove it from config.json", key)
		default:
			if strings.HasPrefix(key, EnforcedPrefix) {
				return nil, fmt.Errorf("annotations[%q]: keys under %s report what plugbox enforces and are written only by 'plugbox state': remove it from config.json", key, EnforcedPrefix)
			}
			return nil, fmt.Errorf("annotations[%q]: unknown plugbox annotation (a misspelled layer would silently not apply): use one of %s, or remove it", key, strings.Join(knownAnnotations, ", "))
		}
	}
	fo, err := ParseFreeBSDOptions(annotations)
	if err != nil {
		return nil, err
	}
	a.FreeBSD = fo
	return &a, nil
}

var knownAnnotations = []string{AnnotationAuthored, AnnotationBinds, AnnotationBroker, AnnotationCapsicum, AnnotationFDNames, AnnotationIDMap, AnnotationLandlock, AnnotationMonitor, AnnotationTimeout, AnnotationViolations,
	AnnotationRctl, AnnotationChildrenMax, AnnotationSecurelevel, AnnotationTrapCap}

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

// landlockOf decodes the AnnotationLandlock value of annotations for an
// audit, which reports a bad value instead of stopping; nil when absent.
func landlockOf(annotations map[string]string) (*LandlockPolicy, error) {
	raw, ok := annotations[AnnotationLandlock]
	if !ok {
		return nil, nil
	}
	p, err := decodeLandlock(raw)
	if err != nil {
		return nil, fmt.Errorf("config.json: annotations[%q]: %w", AnnotationLandlock, err)
	}
	return p, nil
}

// decodeLandlock parses a LandlockPolicy strictly: a misspelled field would
// otherwise drop a rule without a word.
func decodeLandlock(raw string) (*LandlockPolicy, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var p LandlockPolicy
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the policy")
	}
	return &p, nil
}

// ParseViolations returns the violation policy a bundle was authored with:
// AnnotationViolations when present, else what the profile's default action
// says (seccompgen.PolicyOf), with SCMP_ACT_LOG read as audit when
// AnnotationMonitor is "audit".
func ParseViolations(spec *specs.Spec) (seccompgen.Policy, error) {
	a, err := ParseAnnotations(spec.Annotations)
	if err != nil {
		return seccompgen.Policy{}, fmt.Errorf("config.json: %w", err)
	}
	if a.Violations != nil {
		return *a.Violations, nil
	}
	var profile *specs.LinuxSeccomp
	if spec.Linux != nil {
		profile = spec.Linux.Seccomp
	}
	return seccompgen.PolicyOf(profile, a.Monitor == MonitorAudit), nil
}

// brokerOf decodes the AnnotationBroker value of annotations for an audit,
// which reports a bad value instead of stopping; nil when absent.
func brokerOf(annotations map[string]string) (*broker.Policy, error) {
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
