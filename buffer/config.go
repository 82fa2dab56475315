package buffer

import (
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Config is the [buffer] section.
type Config struct {
	// MaxBytes bounds the readings kept and the database file on disk.
	// Beyond it the oldest readings are dropped, and counted.
	MaxBytes config.Size `toml:"max_bytes"`
	// CommitInterval is the group-commit window: at most this much sampled
	// data is lost on a power cut. Nothing is written when nothing is new.
	CommitInterval config.Duration `toml:"commit_interval"`
	// ThinAt is the fill level (a fraction of the data budget) past which
	// the oldest undelivered readings are thinned into per-minute
	// aggregates before any is dropped (thin.go). 0 disables thinning.
	ThinAt float64 `toml:"thin_at"`
	// Keep is how long delivered readings stay for the rules' windows and
	// the page's plots before they are pruned; the agent raises it to what
	// it needs (SetKeep), so 0 means "as the agent needs". max_bytes wins:
	// kept readings are the first to go when room is needed (keep.go).
	Keep config.Duration `toml:"keep"`
}

// DefaultConfig returns the defaults documented in the example config.
func DefaultConfig() Config {
	return Config{
		MaxBytes:       64 << 20,
		CommitInterval: config.D(time.Second),
		ThinAt:         0.8,
	}
}

// Validate checks the section; keys in errors are relative to [buffer].
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if c.MaxBytes < MinMaxBytes {
		errs.Add("max_bytes", "must be at least %s, got %s", config.Size(MinMaxBytes), c.MaxBytes)
	}
	if c.MaxBytes > MaxMaxBytes {
		// 32-bit ARM maps at most 2 GB and grows the map in 1 GB steps past 1 GB.
		errs.Add("max_bytes", "must be at most %s (32-bit boards cannot map more), got %s", config.Size(MaxMaxBytes), c.MaxBytes)
	}
	if c.CommitInterval.Duration < 10*time.Millisecond {
		errs.Add("commit_interval", "must be at least 10ms, got %s", c.CommitInterval.Duration)
	}
	if c.CommitInterval.Duration > 10*time.Minute {
		errs.Add("commit_interval", "must be at most 10m (it is the data lost on a power cut), got %s", c.CommitInterval.Duration)
	}
	if !(c.ThinAt == 0 || c.ThinAt >= 0.1 && c.ThinAt <= 1) {
		errs.Add("thin_at", "must be 0 (off) or a fraction of max_bytes' data budget between 0.1 and 1, got %v", c.ThinAt)
	}
	if c.Keep.Duration < 0 || c.Keep.Duration > MaxKeep {
		errs.Add("keep", "must be between 0s (as the agent needs) and %s, got %s", MaxKeep, c.Keep.Duration)
	}
	return errs.Err()
}

const (
	// MinMaxBytes is the smallest ring that still holds a few commits.
	MinMaxBytes = 256 << 10
	// MaxMaxBytes keeps the file well under bbolt's 1 GB map-growth step on ARM32.
	MaxMaxBytes = 512 << 20
	// MaxKeep bounds keep: a year; max_bytes bounds it long before.
	MaxKeep = 366 * 24 * time.Hour
)
