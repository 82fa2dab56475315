package sensors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// SeriesName is the series a sensor's field is stored under:
// "<sensor>.<field>", or just the sensor's name when the field is empty.
func SeriesName(sensor, field string) string {
	if field == "" {
		return sensor
	}
	return sensor + "." + field
}

// toReadings turns one read's values into readings stamped t. Values that
// cannot be stored (NaN, ±Inf: JSON and line protocol have no spelling for
// them; a name outside the series-name rule) are left out and returned as
// errors, one per value.
func toReadings(sensor string, vals []Value, t time.Time, flags reading.Flags) ([]reading.Reading, []error) {
	out := make([]reading.Reading, 0, len(vals))
	var bad []error
	for _, v := range vals {
		name := SeriesName(sensor, v.Field)
		switch {
		case !reading.ValidName(name):
			bad = append(bad, fmt.Errorf("field %q: invalid series name %q: use ASCII letters, digits, '-', '_' and '.'", v.Field, name))
		case math.IsNaN(v.Value) || math.IsInf(v.Value, 0):
			bad = append(bad, fmt.Errorf("%s: value %v is not a finite number", name, v.Value))
		default:
			out = append(out, reading.Reading{Name: name, Time: t, Value: v.Value, Unit: v.Unit, Flags: flags})
		}
	}
	return out, bad
}

// readTimeout is Config.Timeout, or its documented default when the config
// was built in code without FillDefaults.
func readTimeout(c Config) time.Duration {
	if c.Timeout.Duration > 0 {
		return c.Timeout.Duration
	}
	return min(c.Interval.Duration, 5*time.Second)
}

// ReadOnce reads c's sensor once, now, within its timeout, and closes it:
// the one-shot read of `karana-edge read`. Readings carry the current time
// (UTC) and no flags; nothing is buffered. Calibration (Config.Fields) is
// applied as the sampler would; values that cannot be stored, or are out of
// their range, are left out and reported in the error, next to the readings
// that are good.
func ReadOnce(ctx context.Context, c Configured) ([]reading.Reading, error) {
	if c.Sensor == nil {
		return nil, fmt.Errorf("sensor %s (%s): not created", c.Config.Name, c.Config.Driver)
	}
	rs, err := readNow(ctx, c.Sensor, c.Config.Name, c.Config.Driver, readTimeout(c.Config), c.Config.Fields)
	if cerr := c.Sensor.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("sensor %s (%s): close: %w", c.Config.Name, c.Config.Driver, cerr))
	}
	return rs, err
}

// readNow reads s once, stamped now, calibrated; it leaves s open.
func readNow(ctx context.Context, s Sensor, name, driver string, timeout time.Duration, fields map[string]FieldConfig) ([]reading.Reading, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	now := time.Now().UTC()
	rctx, cancel := context.WithTimeout(WithSlot(ctx, now), timeout)
	vals, err := s.Read(rctx)
	timedOut := rctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil {
		if timedOut {
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return nil, fmt.Errorf("sensor %s (%s): read: %w", name, driver, err)
	}
	vals, oor := calibrate(fields, vals)
	rs, bad := toReadings(name, vals, now, 0)
	bad = append(oor, bad...)
	errs := make([]error, 0, len(bad))
	for _, b := range bad {
		errs = append(errs, fmt.Errorf("sensor %s (%s): %w", name, driver, b))
	}
	return rs, errors.Join(errs...)
}
