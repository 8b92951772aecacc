//go:build !goexperiment.jsonv2

package bundle

// syntaxOffsetPast is how far past the bad byte json.SyntaxError.Offset
// points: encoding/json's v1 implementation counts the byte itself.
const syntaxOffsetPast = 1
