package sandbox

import (
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugbox/plugbox/bundle"
)

// allocateIDMap refuses, before allocating anything, what an allocated
// range cannot serve.
func TestAllocateIDMapRefuses(t *testing.T) {
	spec := func(edit func(*specs.Spec)) CreateOptions {
		s := &specs.Spec{
			Process: &specs.Process{User: specs.User{UID: 1000, GID: 1000}},
			Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.UserNamespace}}},
		}
		edit(s)
		return CreateOptions{ID: "c", Spec: s, Annotations: &bundle.Annotations{AutoIDMap: true}}
	}
	for _, tc := range []struct {
		name string
		opts CreateOptions
		want string
	}{
		{"no user namespace", spec(func(s *specs.Spec) { s.Linux.Namespaces = nil }), "has no new user namespace"},
		{"joins a user namespace", spec(func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/1/ns/user" }), "has no new user namespace"},
		{"fixed maps too", spec(func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}), "uidMappings or gidMappings are set"},
		{"uid outside the range", spec(func(s *specs.Spec) { s.Process.User.UID = 70000 }), "process.user 70000:1000 is outside"},
	} {
		err := allocateIDMap(tc.opts, t.TempDir())
		if err != nil && strings.Contains(err.Error(), "only root") {
			t.Skip("not root: allocateIDMap refuses every allocation first")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// Without the annotation nothing is allocated or changed.
	opts := spec(func(*specs.Spec) {})
	opts.Annotations.AutoIDMap = false
	if err := allocateIDMap(opts, t.TempDir()); err != nil || opts.Spec.Linux.UIDMappings != nil {
		t.Errorf("no annotation: %v, %v", err, opts.Spec.Linux.UIDMappings)
	}
}

func TestIDMapSummary(t *testing.T) {
	got := idMapSummary([]configs.IDMap{{ContainerID: 0, HostID: 1879048192, Size: 65536}}, []configs.IDMap{{ContainerID: 0, HostID: 1879048192, Size: 65536}})
	if want := "uid 0:1879048192:65536 gid 0:1879048192:65536"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
