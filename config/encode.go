package config

import (
	"encoding"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// WriteKeys writes "key = value" lines for the fields of the structs that
// srcs point to (or are), in declaration order, so that a section's own keys
// and a driver's inline options can share one table. Nil pointers are left
// out (absent means default); nested structs and maps are written as inline
// tables. What it writes decodes back to the same values.
func WriteKeys(w io.Writer, srcs ...any) error {
	var b strings.Builder
	for _, src := range srcs {
		if src == nil {
			continue
		}
		v := reflect.ValueOf(src)
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("config: WriteKeys wants structs, got %T", src)
		}
		for _, f := range Fields(v.Type()) {
			fv, ok := lookupField(v, f.Index)
			if !ok {
				continue
			}
			s, ok, err := FormatValue(fv)
			if err != nil {
				return fmt.Errorf("config: key %s: %w", f.Name, err)
			}
			if !ok {
				continue
			}
			b.WriteString(JoinKey("", f.Name))
			b.WriteString(" = ")
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// lookupField walks index without allocating; a nil embedded pointer means
// the field is absent.
func lookupField(v reflect.Value, index []int) (reflect.Value, bool) {
	for n, i := range index {
		if n > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	tomlMarshaler = reflect.TypeFor[toml.Marshaler]()
)

// FormatValue returns v as a TOML value. ok is false for a nil pointer,
// interface, slice or map, which is left out: absent, the key decodes back
// to the same nil, where "[]" or "{}" would decode to an empty non-nil value.
func FormatValue(v reflect.Value) (s string, ok bool, err error) {
	v, ok = deref(v)
	if !ok {
		return "", false, nil
	}
	if v.Type().Implements(tomlMarshaler) {
		b, err := v.Interface().(toml.Marshaler).MarshalTOML()
		return string(b), err == nil, err
	}
	if v.Type().Implements(textMarshaler) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		return Quote(string(b)), err == nil, err
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		return formatArray(v)
	case reflect.Map:
		return formatMap(v)
	case reflect.Struct:
		return formatStruct(v)
	}
	return formatScalar(v)
}

// deref follows pointers and interfaces down to the value to write, but
// stops at a pointer whose type marshals itself (its methods may have
// pointer receivers). ok is false for nil.
func deref(v reflect.Value) (reflect.Value, bool) {
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.IsNil() {
		return v, false
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v, false
		}
		if v.Kind() == reflect.Pointer && v.Type().Implements(textMarshaler) {
			break
		}
		v = v.Elem()
	}
	return v, true
}

func formatScalar(v reflect.Value) (string, bool, error) {
	switch v.Kind() {
	case reflect.String:
		return Quote(v.String()), true, nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Uint() > math.MaxInt64 {
			return "", false, fmt.Errorf("%d does not fit a TOML integer", v.Uint())
		}
		return strconv.FormatUint(v.Uint(), 10), true, nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(v.Float(), v.Type().Bits()), true, nil
	}
	return "", false, fmt.Errorf("type %s has no TOML form", v.Type())
}

func formatArray(v reflect.Value) (string, bool, error) {
	parts := make([]string, 0, v.Len())
	for i := 0; i < v.Len(); i++ {
		s, ok, err := FormatValue(v.Index(i))
		if err != nil {
			return "", false, err
		}
		if ok {
			parts = append(parts, s)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]", true, nil
}

// formatMap writes an inline table with its keys sorted, so the same
// config always prints the same way.
func formatMap(v reflect.Value) (string, bool, error) {
	if v.Type().Key().Kind() != reflect.String {
		return "", false, fmt.Errorf("map key type %s has no TOML form", v.Type().Key())
	}
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		s, ok, err := FormatValue(v.MapIndex(k))
		if err != nil {
			return "", false, err
		}
		if ok {
			parts = append(parts, JoinKey("", k.String())+" = "+s)
		}
	}
	return inlineTable(parts), true, nil
}

func formatStruct(v reflect.Value) (string, bool, error) {
	var parts []string
	for _, f := range Fields(v.Type()) {
		fv, ok := lookupField(v, f.Index)
		if !ok {
			continue
		}
		s, ok, err := FormatValue(fv)
		if err != nil {
			return "", false, err
		}
		if ok {
			parts = append(parts, JoinKey("", f.Name)+" = "+s)
		}
	}
	return inlineTable(parts), true, nil
}

func inlineTable(parts []string) string {
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// formatFloat writes a float that TOML reads back as the same float: with a
// '.' or exponent so it is not taken for an integer, and nan/inf spelled the
// TOML way.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// Quote returns s as a TOML basic string. Unlike strconv.Quote it never
// writes \x escapes, which TOML 1.0 does not have.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
