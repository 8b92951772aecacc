package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/plugbox/plugbox/jail"
)

// platformFeatures reports the FreeBSD jail backend's support.
func platformFeatures(version string) features.Features {
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		MountOptions:  jail.SupportedMountOptions(),
		Annotations:   map[string]string{"org.plugbox.version": version},
	}
}
