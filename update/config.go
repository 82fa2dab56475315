package update

import (
	"crypto/ed25519"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
)

// Config is the [update] section. It is local-only: who may sign a binary
// the box runs is never decided by a document that arrived over MQTT.
type Config struct {
	// Enabled makes the box take signed updates on <prefix>/update/doc
	// (default false).
	Enabled bool `toml:"enabled"`
	// PublicKey / PublicKeyFile is the operator key updates are signed
	// with (base64 or PEM, as [remote] public_key). Unset: [remote]'s key.
	PublicKey     string `toml:"public_key"`
	PublicKeyFile string `toml:"public_key_file"`
	// AllowDowngrade lets a document carry a version below the running one.
	AllowDowngrade bool `toml:"allow_downgrade"`
	// ConfirmTimeout is how long a new binary has to become healthy
	// (uplink connected, sampler producing readings) before the previous
	// one runs again.
	ConfirmTimeout config.Duration `toml:"confirm_timeout"`
	// MaxTrialStarts is how many times a new binary is started (after a
	// crash, a kill, a hang at start) before it is rolled back.
	MaxTrialStarts int `toml:"max_trial_starts"`
}

// DefaultConfirmTimeout is confirm_timeout's default: the remote config's.
const DefaultConfirmTimeout = 5 * time.Minute

// DefaultConfig returns the [update] defaults.
func DefaultConfig() Config {
	return Config{ConfirmTimeout: config.D(DefaultConfirmTimeout), MaxTrialStarts: 3}
}

// Validate checks the section; keys are relative to [update].
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if c.PublicKey != "" && c.PublicKeyFile != "" {
		errs.Add("public_key", "set public_key or public_key_file, not both")
	}
	if _, err := c.OwnKey(); err != nil {
		key := "public_key"
		if c.PublicKeyFile != "" {
			key = "public_key_file"
		}
		errs.Add(key, "%v", err)
	}
	if d := c.ConfirmTimeout.Duration; d < time.Second || d > 24*time.Hour {
		errs.Add("confirm_timeout", "must be between 1s and 24h, got %s", d)
	}
	if c.MaxTrialStarts < 1 || c.MaxTrialStarts > 100 {
		errs.Add("max_trial_starts", "must be between 1 and 100, got %d", c.MaxTrialStarts)
	}
	return errs.Err()
}

// OwnKey is the section's own key, nil when none is set.
func (c *Config) OwnKey() (ed25519.PublicKey, error) {
	return remote.LoadPublicKey(c.PublicKey, c.PublicKeyFile)
}
