//go:build goexperiment.jsonv2

package bundle

// syntaxOffsetPast is how far past the bad byte json.SyntaxError.Offset
// points: encoding/json on the v2 implementation points at the byte.
const syntaxOffsetPast = 0
