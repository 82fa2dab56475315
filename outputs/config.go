package outputs

import (
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// Drivers are the output drivers.
var Drivers = []string{"gpio", "modbus", "exec"}

// LocalOnly reports whether driver runs local code: such an output is
// accepted from the box's own file only, never from a remote document.
func LocalOnly(driver string) bool { return driver == "exec" }

// MaxMinSwitch bounds min_switch.
const MaxMinSwitch = 24 * time.Hour

// Config is one [[output]].
type Config struct {
	// Name makes the series output.<name>.
	Name string `toml:"name"`
	// Driver is gpio, modbus or exec.
	Driver string `toml:"driver"`
	// Pin is the GPIO line (driver gpio), e.g. "GPIO23".
	Pin string `toml:"pin"`
	// Active is the level that means on: high (default) or low (most relay
	// boards with an opto-coupler switch on low).
	Active string `toml:"active"`
	// Safe is the state at start, at shutdown, and while no rule drives
	// it: off (default) or on.
	Safe string `toml:"safe"`
	// On is the expression (package rules): on while true.
	On string `toml:"on"`
	// MinSwitch holds every state at least this long. Default 0.
	MinSwitch config.Duration `toml:"min_switch"`
	// MaxAge overrides the inputs' staleness bound (default 3 × each
	// input's interval).
	MaxAge config.Duration `toml:"max_age"`
	// Command (driver exec) is run with "on" or "off" appended.
	Command []string `toml:"command"`

	// The modbus driver's keys (modbus.go).
	ModbusKeys
}

// DefaultConfig is an output's defaults.
func DefaultConfig() Config { return Config{Active: "high", Safe: "off"} }

// SafeOn is the safe state as a bool.
func (c *Config) SafeOn() bool { return c.Safe == "on" }

// Series is the output's reading name.
func (c *Config) Series() string { return "output." + c.Name }

// PinNames lists the GPIO pins the output uses (board checks).
func (c *Config) PinNames() []string {
	if c.Driver == "gpio" {
		return []string{c.Pin}
	}
	return nil
}

// Validate checks the keys, except the expression (package rules compiles
// it with its position).
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if !reading.ValidName(c.Name) {
		errs.Add("name", "invalid output name %q: use ASCII letters, digits, '-', '_' and '.'", c.Name)
	}
	switch c.Driver {
	case "gpio":
		if c.Pin == "" {
			errs.Add("pin", `must be set, e.g. "GPIO23" (`+"`karana-edge board`"+` lists the header pins)`)
		}
		if len(c.Command) > 0 {
			errs.Add("command", "is for driver \"exec\"; a gpio output takes pin and active")
		}
		c.ModbusKeys.refuse(&errs, "gpio")
	case "modbus":
		c.validateModbus(&errs)
	case "exec":
		if len(c.Command) == 0 || c.Command[0] == "" {
			errs.Add("command", `must be set, e.g. ["/usr/local/bin/pump"] ("on" or "off" is appended)`)
		}
		if c.Pin != "" {
			errs.Add("pin", "is for driver \"gpio\"")
		}
		c.ModbusKeys.refuse(&errs, "exec")
	default:
		errs.Add("driver", "unknown output driver %q (drivers: gpio, modbus, exec)", c.Driver)
	}
	if c.Active != "high" && c.Active != "low" {
		errs.Add("active", "must be high or low, got %q", c.Active)
	}
	if c.Safe != "on" && c.Safe != "off" {
		errs.Add("safe", "must be on or off, got %q", c.Safe)
	}
	if d := c.MinSwitch.Duration; d < 0 || d > MaxMinSwitch {
		errs.Add("min_switch", "must be between 0 and %s, got %s", MaxMinSwitch, d)
	}
	if c.MaxAge.Duration < 0 {
		errs.Add("max_age", "must not be negative, got %s", c.MaxAge.Duration)
	}
	return errs.Err()
}
