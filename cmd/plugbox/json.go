package main

import (
	"encoding/json"
	"io"
)

// jsonEncoder returns an encoder that indents and keeps '<', '>' and '&'.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc
}
