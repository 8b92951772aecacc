package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UnknownProperties lists, as paths such as "process.noNewPrivilege", the
// properties of config.json bytes that the runtime spec does not define.
// Load ignores them, as the spec requires; a misspelled hardening option is
// one of them, so plugbox check reports each.
func UnknownProperties(data []byte) ([]string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out []string
	unknownIn(reflect.TypeOf(specs.Spec{}), v, "", &out)
	sort.Strings(out)
	return out, nil
}

// unknownIn appends to out the keys of v that type t does not decode,
// matching names as encoding/json does (exactly, else ignoring case).
func unknownIn(t reflect.Type, v any, at string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := jsonFields(t)
		for k, val := range obj {
			ft, ok := fields[k]
			if !ok {
				for name, f := range fields {
					if strings.EqualFold(name, k) {
						ft, ok = f, true
						break
					}
				}
			}
			p := joinProperty(at, k)
			if !ok {
				*out = append(*out, p)
				continue
			}
			unknownIn(ft, val, p, out)
		}
	case reflect.Slice, reflect.Array:
		arr, _ := v.([]any)
		for i, e := range arr {
			unknownIn(t.Elem(), e, fmt.Sprintf("%s[%d]", at, i), out)
		}
	case reflect.Map:
		obj, _ := v.(map[string]any)
		for k, e := range obj {
			unknownIn(t.Elem(), e, fmt.Sprintf("%s[%q]", at, k), out)
		}
	}
}

// jsonFields maps the JSON names of struct type t (with the fields of
// embedded structs) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for n, ft := range jsonFields(et) {
					if _, ok := m[n]; !ok {
						m[n] = ft
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func joinProperty(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}
