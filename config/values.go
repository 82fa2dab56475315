// Package config holds what every section of karana-edge's TOML file shares:
// the Duration and Size value types, and the errors that carry a file
// position and a key path so a technician can find the typo.
//
// Each package owns the struct of its own section and validates it; this
// package knows no section. It also holds the position-aware loader the
// composing package uses: Parse a file into a Doc, then decode each Table
// (a section, one [[sensor]]) into the structs that own its keys with
// Table.Decode, record Validate errors with Table.Fail, and collect every
// mistake as Errors sorted by line.
//
// Facts about github.com/BurntSushi/toml v1.6 that shaped the loader:
//   - Its decode stops at the first type error, and that error is a plain
//     fmt error ("toml: line N (last key ...): incompatible types ...")
//     whose line is a guess for keys inside arrays of tables.
//   - It keeps key positions private, keyed by the path without array index:
//     every [[sensor]]'s interval is the one key "sensor.interval". So is
//     MetaData.Undecoded(), which therefore cannot say which sensor holds an
//     unknown key. KeyIndex (a small scanner) indexes every key with its
//     array indices instead.
//   - It matches struct fields case-insensitively; TOML keys are
//     case-sensitive, so Table.Decode matches tags exactly.
//   - Errors from a field's UnmarshalText/UnmarshalTOML come back as a
//     ParseError whose Message is the unmarshaler's own text.
//   - A bare number for a TextUnmarshaler is formatted ("10", "1.500000") and
//     passed as text, hence Duration.UnmarshalTOML.
//   - Decoding a slice reuses the destination's backing array when it is
//     large enough; Table.Decode decodes into a fresh value so defaults are
//     never written through.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("10s", "1m30s").
type Duration struct{ time.Duration }

// D is shorthand to build a Duration in code.
func D(d time.Duration) Duration { return Duration{d} }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"500ms\", \"10s\", \"5m\")", string(b))
	}
	d.Duration = v
	return nil
}

// UnmarshalTOML rejects a bare number, which BurntSushi would otherwise
// hand to UnmarshalText as "10" and leave the user puzzling over a missing
// unit: a duration needs one.
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		return d.UnmarshalText([]byte(x))
	case int64, float64:
		return fmt.Errorf("invalid duration %v: a duration is a string with a unit, e.g. \"%vs\" or \"500ms\"", x, x)
	default:
		return fmt.Errorf("invalid duration: want a string such as \"10s\", got %T", v)
	}
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Size is a byte count written as an integer or with a unit: "512KiB",
// "64MiB", "1GiB" (also KB/MB/GB as powers of 1000, and B).
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize parses a size string such as "64MiB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || t == "" {
		return 0, fmt.Errorf("invalid size %q (use e.g. \"64MiB\", \"512KiB\", \"1GiB\")", s)
	}
	v := n * float64(mult)
	if v > float64(1<<62) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(v), nil
}

func (z *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// UnmarshalTOML also accepts a bare integer number of bytes.
func (z *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("invalid size %d: must not be negative", x)
		}
		*z = Size(x)
		return nil
	case string:
		return z.UnmarshalText([]byte(x))
	default:
		return fmt.Errorf("invalid size %v: want a string like \"64MiB\" or a number of bytes", v)
	}
}

func (z Size) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

func (z Size) String() string {
	switch {
	case z >= 1<<30 && z%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", z>>30)
	case z >= 1<<20 && z%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", z>>20)
	case z >= 1<<10 && z%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", z>>10)
	}
	return fmt.Sprintf("%dB", int64(z))
}

// FieldError is a validation error about one key of a section, before its
// position in the file is known. Key is relative to the table being validated
// ("interval", "waveform"); the loader prefixes the table path
// ("sensor[2].interval") and adds file:line:col.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Errorf builds a FieldError for key.
func Errorf(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors is a list of FieldError, returned by Validate methods so that a
// user sees every mistake of a section at once.
type FieldErrors []*FieldError

// Add appends an error for key.
func (l *FieldErrors) Add(key, format string, args ...any) {
	*l = append(*l, Errorf(key, format, args...))
}

// Err returns nil when the list is empty, so callers can `return errs.Err()`.
func (l FieldErrors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l FieldErrors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Strings decodes a value that may be one string or a list of strings
// (budget = "5MiB/day" or ["5MiB/day", "100MiB/month"]) for a type's
// UnmarshalTOML. key and example name the key and a valid entry in the
// error, which says which element is wrong.
func Strings(v any, key, example string) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: want a string such as %q, got %T", key, i, example, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: want %q or a list of such strings, got %T", key, example, v)
}
