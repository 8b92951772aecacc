//go:build linux && cgo

package refprofile

import "testing"

// The reference profile keeps the size the comparison depends on: some
// 300 calls by name plus the argument rules.
func TestProfileHasTheReferenceShape(t *testing.T) {
	p, err := Profile()
	if err != nil {
		t.Fatal(err)
	}
	names, args := 0, 0
	for _, r := range p.Syscalls {
		names += len(r.Names)
		if len(r.Args) > 0 {
			args++
		}
	}
	if names < 280 || names > 420 || args != 31 {
		t.Errorf("%d names, %d argument rules: want 280 to 420 names and 31 argument rules", names, args)
	}
	for _, r := range p.Syscalls[0].Names {
		if denied[r] {
			t.Errorf("%s is allowed by name but is on the denied list", r)
		}
	}
}
