package rules

import (
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// DeriveConfig is one [[derive]]: a new series computed from others.
type DeriveConfig struct {
	// Name is the new series, buffered and streamed like any other.
	Name string `toml:"name"`
	// Expr gives its value (a number).
	Expr string `toml:"expr"`
	// Unit is the reading's unit.
	Unit string `toml:"unit"`
	// MinInterval spaces results at least this far apart (reading time).
	// Default 0: one result per new input time, so at most once per the
	// inputs' interval.
	MinInterval config.Duration `toml:"min_interval"`
	// MaxAge: an input older than this is missing. Default 0: 3 × each
	// input's interval.
	MaxAge config.Duration `toml:"max_age"`
}

// Severities of a rule, lowest first.
var Severities = []string{"info", "warning", "critical"}

// MaxFor bounds a rule's for.
const MaxFor = 7 * 24 * time.Hour

// RuleConfig is one [[rule]]: an alarm, the series alarm.<name>.
type RuleConfig struct {
	Name string `toml:"name"`
	// When raises the alarm once it has held for For.
	When string `toml:"when"`
	// Clear clears it (hysteresis); default: not When.
	Clear string `toml:"clear"`
	// For is how long When must hold before the alarm is raised.
	For config.Duration `toml:"for"`
	// Severity is info, warning (default) or critical.
	Severity string `toml:"severity"`
	// MaxAge: an input older than this is missing. Default 0: 3 × each
	// input's interval.
	MaxAge config.Duration `toml:"max_age"`
}

// DefaultRule is a rule's defaults.
func DefaultRule() RuleConfig { return RuleConfig{Severity: "warning"} }

// Series is the alarm's reading name.
func (c *RuleConfig) Series() string { return "alarm." + c.Name }

// Validate checks the keys, except the expressions (Compile, with their
// positions).
func (c *DeriveConfig) Validate() error {
	var errs config.FieldErrors
	if !reading.ValidName(c.Name) {
		errs.Add("name", "invalid series name %q: ASCII letters, digits, '-', '_' and '.', not starting or ending with a dot", c.Name)
	}
	if c.MinInterval.Duration < 0 {
		errs.Add("min_interval", "must not be negative, got %s", c.MinInterval.Duration)
	}
	if c.MaxAge.Duration < 0 {
		errs.Add("max_age", "must not be negative, got %s", c.MaxAge.Duration)
	}
	return errs.Err()
}

// Validate checks the keys, except the expressions.
func (c *RuleConfig) Validate() error {
	var errs config.FieldErrors
	if !reading.ValidName(c.Name) {
		errs.Add("name", "invalid rule name %q: ASCII letters, digits, '-', '_' and '.'", c.Name)
	}
	if d := c.For.Duration; d < 0 || d > MaxFor {
		errs.Add("for", "must be between 0 and %s, got %s", MaxFor, d)
	}
	ok := false
	for _, s := range Severities {
		ok = ok || s == c.Severity
	}
	if !ok {
		errs.Add("severity", "must be info, warning or critical, got %q", c.Severity)
	}
	if c.MaxAge.Duration < 0 {
		errs.Add("max_age", "must not be negative, got %s", c.MaxAge.Duration)
	}
	return errs.Err()
}
