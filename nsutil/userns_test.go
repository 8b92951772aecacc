package nsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnprivilegedUserNSBlocked(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		blocked bool
		fixHas  string
	}{
		{"no knobs at all", nil, false, ""},
		{"everything allowed", map[string]string{
			"kernel/apparmor_restrict_unprivileged_userns": "0\n",
			"kernel/unprivileged_userns_clone":             "1\n",
			"user/max_user_namespaces":                     "63000\n",
		}, false, ""},
		{"ubuntu apparmor restriction", map[string]string{"kernel/apparmor_restrict_unprivileged_userns": "1\n"}, true, "apparmor_restrict_unprivileged_userns=0"},
		{"debian clone switch off", map[string]string{"kernel/unprivileged_userns_clone": "0\n"}, true, "unprivileged_userns_clone=1"},
		{"no user namespaces", map[string]string{"user/max_user_namespaces": "0\n"}, true, "max_user_namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for path, content := range tt.files {
				full := filepath.Join(dir, path)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			old := ProcSys
			ProcSys = dir
			defer func() { ProcSys = old }()
			blocked, fix := UnprivilegedUserNSBlocked()
			if blocked != tt.blocked || !strings.Contains(fix, tt.fixHas) {
				t.Errorf("got (%v, %q), want blocked=%v with a fix containing %q", blocked, fix, tt.blocked, tt.fixHas)
			}
		})
	}
}
