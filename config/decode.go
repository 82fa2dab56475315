package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Decode decodes every key of t into the field, of the first of dsts, whose
// toml tag names it, and returns the keys no field names, in file order.
// dsts are pointers to structs already holding their defaults; a nil dst is
// skipped. A key whose value has the wrong type or is rejected by the
// field's UnmarshalText/UnmarshalTOML is recorded as an error at that key,
// and the field keeps its default. Sub-tables decoded into struct fields are
// checked strictly for unknown keys.
//
// Key matching is exact: TOML keys are case-sensitive, whatever
// BurntSushi's own decoder tolerates.
func (t *Table) Decode(dsts ...any) (unknown []string) {
	fields := map[string]reflect.Value{}
	for _, dst := range dsts {
		if dst == nil {
			continue
		}
		v := reflect.ValueOf(dst)
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			panic(fmt.Sprintf("config: Decode wants pointers to structs, got %T", dst))
		}
		for _, f := range Fields(v.Elem().Type()) {
			if _, dup := fields[f.Name]; !dup {
				fields[f.Name] = fieldValue(v.Elem(), f.Index)
			}
		}
	}
	for _, key := range t.Keys() {
		fv, ok := fields[key]
		if !ok {
			unknown = append(unknown, key)
			continue
		}
		t.doc.decodeValue(t.KeyPath(key), t.keys[key], fv)
	}
	return unknown
}

// DecodeStrict decodes like Decode and records every key that no field of
// dsts names as an unknown key.
func (t *Table) DecodeStrict(dsts ...any) {
	t.Unknown(t.Decode(dsts...), AllowedKeys(dsts...), nil)
}

// Unknown records each of keys as not allowed in t, suggesting the closest
// of allowed when one is near. hint, when not nil, may append to the message
// for a key (a leading space or punctuation is the caller's).
func (t *Table) Unknown(keys, allowed []string, hint func(key string) string) {
	for _, key := range keys {
		msg := "unknown key"
		if t.Path == "" {
			switch t.Value(key).(type) {
			case map[string]any, []map[string]any:
				msg = "unknown section"
			default:
				msg = "unknown top-level key"
			}
		}
		if s := Suggest(key, allowed); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		if hint != nil {
			msg += hint(key)
		}
		t.Errorf(key, "%s", msg)
	}
}

// AllowedKeys lists the toml keys of the structs dsts point to (or are),
// sorted; nil entries are skipped.
func AllowedKeys(dsts ...any) []string {
	var keys []string
	for _, dst := range dsts {
		if dst == nil {
			continue
		}
		t := reflect.TypeOf(dst)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		for _, f := range Fields(t) {
			keys = append(keys, f.Name)
		}
	}
	sort.Strings(keys)
	return keys
}

// Field is one TOML key of a struct as the loader maps it: the struct field
// it lands in (possibly inside an embedded struct), the key, and the index
// path from the outer struct.
type Field struct {
	reflect.StructField
	Name  string
	Index []int
}

// Fields lists a struct's TOML keys the way BurntSushi maps them: the tag
// name, else the field name; "-" skipped; untagged embedded structs
// flattened. Whoever walks a config struct by its keys (the loader, the
// encoder, remote's guard schema) uses this one rule.
func Fields(t reflect.Type) []Field {
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for _, f := range Fields(et) {
					f.Index = append([]int{i}, f.Index...)
					out = append(out, f)
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, Field{StructField: sf, Name: name, Index: []int{i}})
	}
	return out
}

// fieldValue walks index from v, allocating nil embedded pointers.
func fieldValue(v reflect.Value, index []int) reflect.Value {
	for n, i := range index {
		if n > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	tomlUnmarshaler = reflect.TypeFor[toml.Unmarshaler]()
)

// IsTable reports whether values of t are decoded key by key from a TOML
// table (a plain struct), rather than as one value (a Duration, a Size).
func IsTable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	pt := reflect.PointerTo(t)
	return !pt.Implements(textUnmarshaler) && !pt.Implements(tomlUnmarshaler)
}

func (d *Doc) decodeValue(path string, p toml.Primitive, fv reflect.Value) {
	ft := fv.Type()
	var raw any
	_ = d.md.PrimitiveDecode(p, &raw)

	if _, ok := raw.(map[string]any); ok && IsTable(ft) {
		sub := d.subTable(path, p)
		if sub == nil {
			return
		}
		if ft.Kind() == reflect.Pointer {
			if fv.IsNil() {
				fv.Set(reflect.New(ft.Elem()))
			}
			sub.DecodeStrict(fv.Interface())
		} else {
			sub.DecodeStrict(fv.Addr().Interface())
		}
		return
	}
	if _, ok := raw.(map[string]any); ok && ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String && IsTable(ft.Elem()) {
		// A table of tables keyed by name ([sensor.fields.voltage]): each
		// entry is decoded strictly, so a typo inside one has its position.
		sub := d.subTable(path, p)
		if sub == nil {
			return
		}
		m := reflect.MakeMapWithSize(ft, len(sub.keys))
		for _, key := range sub.Keys() {
			et := sub.Table(key)
			if et == nil {
				continue // not a table: recorded by Table
			}
			elem := reflect.New(ft.Elem()).Elem()
			if elem.Kind() == reflect.Pointer {
				elem.Set(reflect.New(ft.Elem().Elem()))
				et.DecodeStrict(elem.Interface())
			} else {
				et.DecodeStrict(elem.Addr().Interface())
			}
			m.SetMapIndex(reflect.ValueOf(key).Convert(ft.Key()), elem)
		}
		fv.Set(m)
		return
	}
	if ft.Kind() == reflect.Slice && IsTable(ft.Elem()) && isTableArray(raw) {
		subs := d.subTables(path, p)
		s := reflect.MakeSlice(ft, len(subs), len(subs))
		for i, sub := range subs {
			elem := s.Index(i)
			if elem.Kind() == reflect.Pointer {
				elem.Set(reflect.New(ft.Elem().Elem()))
				sub.DecodeStrict(elem.Interface())
			} else {
				sub.DecodeStrict(elem.Addr().Interface())
			}
		}
		fv.Set(s)
		return
	}

	if _, isMap := raw.(map[string]any); ft.Kind() == reflect.Map && !isMap {
		// BurntSushi leaves a map alone, without an error, for a scalar.
		d.failed[path] = true
		d.Errorf(path, "wrong type: got %s, want %s", describe(raw), want(ft))
		return
	}
	// Decode into a fresh value and assign only on success: a rejected value
	// leaves the default in place, and BurntSushi would otherwise write into
	// the default slice's backing array.
	nv := reflect.New(ft)
	if err := d.md.PrimitiveDecode(p, nv.Interface()); err != nil {
		d.failed[path] = true
		d.Errorf(path, "%s", valueMessage(err, raw, ft))
		return
	}
	fv.Set(nv.Elem())
}

func isTableArray(raw any) bool {
	switch x := raw.(type) {
	case []map[string]any:
		return true
	case []any:
		for _, e := range x {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return len(x) > 0
	}
	return false
}

// valueMessage turns a BurntSushi decode error into a message about one key.
// Errors from UnmarshalText/UnmarshalTOML come wrapped in a ParseError whose
// Message is the unmarshaler's own text; type mismatches come as plain
// errors and are reworded from the value and the field type.
func valueMessage(err error, raw any, ft reflect.Type) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Message
	}
	msg := err.Error()
	if strings.Contains(msg, "incompatible types") || strings.Contains(msg, "type mismatch") {
		return fmt.Sprintf("wrong type: got %s, want %s", describe(raw), want(ft))
	}
	return cleanTOMLError(err)
}

var tomlPrefix = regexp.MustCompile(`^toml: (line \d+ )?(\(last key "[^"]*"\): )?`)

// cleanTOMLError strips BurntSushi's "toml: line N (last key ...)" prefix,
// whose line is unreliable inside arrays of tables.
func cleanTOMLError(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return tomlPrefix.ReplaceAllString(err.Error(), "")
}

// describe names a raw TOML value for a message.
func describe(raw any) string {
	switch x := raw.(type) {
	case nil:
		return "nothing"
	case string:
		if len(x) > 40 {
			x = x[:37] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "date-time " + x.Format(time.RFC3339Nano)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", raw)
}

// want names what a field of type t takes.
func want(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a table"
	case reflect.Slice, reflect.Array:
		switch w := want(t.Elem()); w {
		case "a string":
			return "an array of strings"
		case "an integer", "a non-negative integer":
			return "an array of integers"
		case "a number":
			return "an array of numbers"
		case "a table":
			return "an array of tables"
		default:
			return "an array"
		}
	}
	return "a " + t.String()
}
