package sensors

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// Per-field calibration lives here, once, for every driver: a sensor table
// may carry one sub-table per field,
//
//	[[sensor]]
//	name = "battery"
//	driver = "ina219"
//	[sensor.fields.voltage]
//	scale = 1.02     # value * scale + offset: a divider's ratio, a shunt's error
//	offset = -0.01
//	min = 0          # outside [min, max] the value is counted, not stored
//	max = 60
//	unit = "V"       # replaces the driver's unit (after a scale that changes it)
//
// The sampler applies it to each Value the driver returns, before the value
// is named and stored. Drivers know nothing of it, so a driver written
// tomorrow gets calibration and validity ranges for free, and `karana-edge
// read` shows the calibrated value the buffer would store.
//
// A value outside its range is the usual sign of a sensor gone wrong (an open
// ADC input reads full scale; a DS18B20 that lost power reads 85 °C), but the
// sensor itself answered: the read counts as a success (no backoff, no
// re-open), and the value is counted in SensorStats.OutOfRange.

// FieldConfig is the calibration and validity range of one field.
type FieldConfig struct {
	// Scale multiplies the driver's value; nil means 1. It must not be 0.
	Scale *float64 `toml:"scale"`
	// Offset is added after scaling. Default 0.
	Offset float64 `toml:"offset"`
	// Min and Max bound the calibrated value (inclusive); nil is unbounded.
	Min *float64 `toml:"min"`
	Max *float64 `toml:"max"`
	// Unit, when set, replaces the driver's unit.
	Unit string `toml:"unit"`
}

// ErrOutOfRange is wrapped by the error FieldConfig.Apply returns for a
// value outside [min, max].
var ErrOutOfRange = errors.New("out of range")

// Apply calibrates v and checks its range. The error wraps ErrOutOfRange and
// names the field, the calibrated value and the range.
func (f *FieldConfig) Apply(v Value) (Value, error) {
	if f == nil {
		return v, nil
	}
	raw := v.Value
	if f.Scale != nil {
		v.Value *= *f.Scale
	}
	v.Value += f.Offset
	if f.Unit != "" {
		v.Unit = f.Unit
	}
	if math.IsNaN(v.Value) {
		return v, nil // reported by toReadings as not finite
	}
	if (f.Min != nil && v.Value < *f.Min) || (f.Max != nil && v.Value > *f.Max) {
		msg := fmt.Sprintf("field %q: %v%s outside [%s, %s]", v.Field, v.Value, unitSuffix(v.Unit), bound(f.Min, "-inf"), bound(f.Max, "inf"))
		if v.Value != raw {
			msg += fmt.Sprintf(" (raw %v)", raw)
		}
		return v, fmt.Errorf("%s: %w", msg, ErrOutOfRange)
	}
	return v, nil
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func bound(p *float64, none string) string {
	if p == nil {
		return none
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// validateFields checks every [sensor.fields.<name>] table; keys are
// relative to the sensor table ("fields.voltage.min").
func validateFields(fields map[string]FieldConfig, errs *config.FieldErrors) {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		f := fields[name]
		key := config.JoinKey("fields", name)
		if !reading.ValidName(name) {
			errs.Add(key, "invalid field name %q: use ASCII letters, digits, '-', '_' and '.', not starting or ending with a dot", name)
		}
		finite := func(k string, v float64) bool {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				errs.Add(key+"."+k, "must be a finite number, got %v", v)
				return false
			}
			return true
		}
		if f.Scale != nil && finite("scale", *f.Scale) && *f.Scale == 0 {
			errs.Add(key+".scale", "must not be 0 (every value would read the offset); leave it out for 1")
		}
		finite("offset", f.Offset)
		okMin := f.Min == nil || finite("min", *f.Min)
		okMax := f.Max == nil || finite("max", *f.Max)
		if okMin && okMax && f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			errs.Add(key+".min", "min (%v) is above max (%v)", *f.Min, *f.Max)
		}
		if len(f.Unit) > 32 || strings.IndexFunc(f.Unit, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			errs.Add(key+".unit", "must be at most 32 printable characters, got %q", f.Unit)
		}
	}
}

// calibrate applies fields to vals and returns the values to keep, in
// order, and an error for each value out of its range (left out).
func calibrate(fields map[string]FieldConfig, vals []Value) ([]Value, []error) {
	if len(fields) == 0 {
		return vals, nil
	}
	out := make([]Value, 0, len(vals))
	var oor []error
	for _, v := range vals {
		fc, ok := fields[v.Field]
		if !ok {
			out = append(out, v)
			continue
		}
		cv, err := fc.Apply(v)
		if err != nil {
			oor = append(oor, err)
			continue
		}
		out = append(out, cv)
	}
	return out, oor
}

// missingFields lists configured fields that vals does not produce, sorted:
// a typo the config loader cannot see, since only a read tells which fields
// a driver has.
func missingFields(fields map[string]FieldConfig, vals []Value) []string {
	var miss []string
	for name := range fields {
		found := false
		for _, v := range vals {
			if v.Field == name {
				found = true
				break
			}
		}
		if !found {
			miss = append(miss, name)
		}
	}
	sort.Strings(miss)
	return miss
}
