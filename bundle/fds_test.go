package bundle

import (
	"strings"
	"testing"
)

func TestCheckFDs(t *testing.T) {
	tests := []struct {
		names []string
		n     int
		err   string
	}{
		{nil, 0, ""},
		{nil, 5, ""}, // a runc bundle takes what --preserve-fds passes
		{[]string{"input"}, 1, ""},
		{[]string{"input", "output"}, 2, ""},
		{[]string{"input"}, 0, `expects 1 descriptor(s) (annotation org.plugbox.fdnames: "input")`},
		{[]string{"input", "output"}, 3, `expects 2 descriptor(s) (annotation org.plugbox.fdnames: "input:output")`},
	}
	for _, tc := range tests {
		err := (&Annotations{FDNames: tc.names}).CheckFDs(tc.n)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v with %d: %v", tc.names, tc.n, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v with %d: error %v, want %q", tc.names, tc.n, err, tc.err)
		}
	}
}
