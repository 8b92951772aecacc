package learn

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

const t0 = `"time":"2026-12-01T10:00:00Z","container":"c","pid":7,"arch":"amd64","nr":0`

func TestObservedIn(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want []string // "name arg0"
		err  string
	}{
		{"empty", "", nil, ""},
		{"distinct calls and arguments, once each",
			`{` + t0 + `,"syscall":"socket","args":[2,1,0,0,0,0],"action":"allowed"}
{` + t0 + `,"syscall":"socket","args":[2,1,0,0,0,0],"action":"allowed","count":5}
{` + t0 + `,"syscall":"socket","args":[10,1,0,0,0,0],"action":"allowed"}
{` + t0 + `,"syscall":"fork","args":[0,0,0,0,0,0],"action":"allowed"}
`, []string{"socket 2", "socket 10", "fork 0"}, ""},
		{"a torn last line is not read",
			`{` + t0 + `,"syscall":"fork","args":[0,0,0,0,0,0],"action":"allowed"}
{"time":"2026-12`, []string{"fork 0"}, ""},
		{"dropped calls make the profile incomplete",
			`{` + t0 + `,"syscall":"fork","args":[0,0,0,0,0,0],"action":"allowed"}
{"time":"2026-12-01T10:00:01Z","container":"c","notice":"dropped","action":"allowed","count":3,"calls":{"mount":3},"message":"rate limit"}
`, nil, "could not record every call (dropped)"},
		{"a dead monitor makes it incomplete",
			`{"time":"2026-12-01T10:00:01Z","container":"c","notice":"monitor-died","message":"killed"}
`, nil, "(monitor-died)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := observedIn(strings.NewReader(tc.log))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range got {
				names = append(names, o.Name+" "+strconv.FormatUint(o.Args[0], 10))
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("observed %v, want %v", names, tc.want)
			}
		})
	}
}
