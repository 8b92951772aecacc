package bundle

import (
	"strings"
	"testing"
)

// The column of a syntax error points at the bad byte, whichever
// encoding/json implementation plugbox is built with (GOEXPERIMENT).
func TestSyntaxErrorNamesTheBadBytesColumn(t *testing.T) {
	_, err := Decode("config.json", []byte("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {,\n}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "config.json:3:15: malformed JSON") {
		t.Errorf("error %v: want it at config.json:3:15 (the stray comma)", err)
	}
}
