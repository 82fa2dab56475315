package sensors

import (
	"fmt"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/cron"
	"github.com/karana-energy/karana-edge/reading"
)

// Config holds the keys every [[sensor]] table has. The driver's own keys sit
// inline in the same table and are decoded into Driver.Options().
type Config struct {
	Name     string          `toml:"name"`     // series prefix
	Driver   string          `toml:"driver"`   // registry name
	Interval config.Duration `toml:"interval"` // read period, aligned to wall-clock multiples
	// Timeout bounds one read; default: the smaller of interval and 5s.
	Timeout config.Duration `toml:"timeout"`
	// Schedule, when set, replaces interval for timing: one or more cron
	// expressions (minute hour day-of-month month day-of-week, in the box's
	// local time zone) for readings such as a daily capacity test at 06:00.
	Schedule []string `toml:"schedule"`
	// Disabled keeps a sensor in the file without reading it.
	Disabled bool `toml:"disabled"`
	// Fields holds per-field calibration and validity ranges, written as
	// [sensor.fields.<field>] sub-tables; see FieldConfig.
	Fields map[string]FieldConfig `toml:"fields"`

	// Options is the driver's decoded options struct (set by the loader).
	Options any `toml:"-"`
}

// DefaultConfig returns the common defaults.
func DefaultConfig() Config {
	return Config{Interval: config.D(10 * time.Second)}
}

// FillDefaults sets values that depend on other keys.
func (c *Config) FillDefaults() {
	if c.Timeout.Duration == 0 {
		c.Timeout.Duration = min(c.Interval.Duration, 5*time.Second)
	}
}

// Validate checks the common keys; keys are relative to the [[sensor]] table.
// The driver's options are validated by Driver.New.
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if !reading.ValidName(c.Name) {
		errs.Add("name", "invalid sensor name %q: use ASCII letters, digits, '-', '_' and '.', not starting with a dot", c.Name)
	}
	if c.Driver == "" {
		errs.Add("driver", "must be set (known: %s)", strings.Join(DriverNames(), ", "))
	} else if _, ok := Lookup(c.Driver); !ok {
		errs.Add("driver", "unknown driver %q (known: %s)", c.Driver, strings.Join(DriverNames(), ", "))
	}
	if c.Interval.Duration < 10*time.Millisecond {
		errs.Add("interval", "must be at least 10ms, got %s", c.Interval.Duration)
	}
	if c.Interval.Duration > 24*time.Hour {
		errs.Add("interval", "must be at most 24h, got %s", c.Interval.Duration)
	}
	for i, spec := range c.Schedule {
		if _, err := cron.Parse(spec); err != nil {
			errs.Add(fmt.Sprintf("schedule[%d]", i), "%v", err)
		}
	}
	if c.Timeout.Duration < 0 || (c.Timeout.Duration > c.Interval.Duration && c.Interval.Duration > 0) {
		errs.Add("timeout", "must be positive and at most the interval (%s), got %s", c.Interval.Duration, c.Timeout.Duration)
	}
	validateFields(c.Fields, &errs)
	return errs.Err()
}
