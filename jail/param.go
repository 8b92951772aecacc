package jail

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Kind says how a Param's value is encoded for jail_set(2) and nmount(2).
type Kind int

// Value kinds of a Param.
const (
	// KindString is a NUL-terminated string.
	KindString Kind = iota
	// KindInt is a 4-byte native-endian int.
	KindInt
	// KindBool is a flag: the name (or its "no" form) with no value.
	KindBool
	// KindRaw is an opaque byte array (e.g. packed in_addr for ip4.addr).
	KindRaw
)

// Param is one name/value pair passed to jail_set(2) or nmount(2).
type Param struct {
	Name string
	Kind Kind
	Str  string
	Int  int32
	Bool bool
	Raw  []byte
}

// StringParam returns a string-valued Param.
func StringParam(name, value string) Param { return Param{Name: name, Kind: KindString, Str: value} }

// IntParam returns an int-valued Param.
func IntParam(name string, value int32) Param { return Param{Name: name, Kind: KindInt, Int: value} }

// BoolParam returns a boolean Param; false is sent as the "no" form of name.
func BoolParam(name string, value bool) Param { return Param{Name: name, Kind: KindBool, Bool: value} }

// RawParam returns a Param whose value is sent as is.
func RawParam(name string, value []byte) Param { return Param{Name: name, Kind: KindRaw, Raw: value} }

// String renders p as jail(8) would write it, for messages and tests.
func (p Param) String() string {
	switch p.Kind {
	case KindString:
		return p.Name + "=" + strconv.Quote(p.Str)
	case KindInt:
		return p.Name + "=" + strconv.Itoa(int(p.Int))
	case KindBool:
		if p.Bool {
			return p.Name
		}
		return NoName(p.Name)
	default:
		return fmt.Sprintf("%s=<%d bytes>", p.Name, len(p.Raw))
	}
}

// NoName returns the negated form of a boolean parameter name, with "no"
// inserted after the last dot as jail(2) expects: "persist" → "nopersist",
// "allow.mount.tmpfs" → "allow.mount.notmpfs".
func NoName(name string) string {
	i := strings.LastIndexByte(name, '.')
	return name[:i+1] + "no" + name[i+1:]
}

// Encode returns the name and value buffers of p exactly as the kernel reads
// them: the name NUL-terminated; strings NUL-terminated; ints as 4 native
// bytes; booleans as the name (or "no" name) with a nil value.
func (p Param) Encode() (name, value []byte, err error) {
	n := p.Name
	if p.Kind == KindBool && !p.Bool {
		n = NoName(n)
	}
	if n == "" || strings.IndexByte(n, 0) >= 0 {
		return nil, nil, fmt.Errorf("jail parameter %q: name must be non-empty and contain no NUL byte", p.Name)
	}
	name = append([]byte(n), 0)
	switch p.Kind {
	case KindString:
		if strings.IndexByte(p.Str, 0) >= 0 {
			return nil, nil, fmt.Errorf("jail parameter %s: value contains a NUL byte", p.Name)
		}
		value = append([]byte(p.Str), 0)
	case KindInt:
		value = binary.NativeEndian.AppendUint32(nil, uint32(p.Int))
	case KindBool:
		value = nil
	case KindRaw:
		value = p.Raw
	default:
		return nil, nil, fmt.Errorf("jail parameter %s: unknown kind %d", p.Name, p.Kind)
	}
	return name, value, nil
}

// EncodeAll encodes params in order as alternating name and value buffers,
// the layout of the iovec array jail_set(2) and nmount(2) take.
func EncodeAll(params []Param) ([][]byte, error) {
	out := make([][]byte, 0, 2*len(params))
	for _, p := range params {
		n, v, err := p.Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, n, v)
	}
	return out, nil
}
