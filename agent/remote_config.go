package agent

import (
	"crypto/ed25519"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
)

// DefaultConfirmTimeout is [remote] confirm_timeout's default.
const DefaultConfirmTimeout = 5 * time.Minute

// RemoteConfig is the [remote] section: the safety rules for configuration
// and commands over MQTT. It is only ever taken from the local file unless
// that file lists "remote" in allow (the remote tags; package remote).
type RemoteConfig struct {
	// Enabled turns on config/set and cmd/* (default false: a box nobody
	// configured for it takes nothing from the broker).
	Enabled bool `toml:"enabled" remote:"remote"`
	// Allow lists what a remote document may set (remote.DefaultAllow when
	// empty); see remote.Policy for the guarded entries.
	Allow []string `toml:"allow" remote:"remote"`
	// PublicKey is an ed25519 public key, base64 (32 bytes) or PEM
	// (SubjectPublicKeyInfo). When set, only signed documents are accepted.
	PublicKey string `toml:"public_key" remote:"remote"`
	// PublicKeyFile is the same key read from a file.
	PublicKeyFile string `toml:"public_key_file" remote:"remote"`
	// ConfirmTimeout is how long an applied remote config has to prove
	// itself (uplink connected, sampler producing) before it is rolled back.
	ConfirmTimeout config.Duration `toml:"confirm_timeout" remote:"remote"`
	// VersionReset, in the local file, takes remote management back from
	// a version nothing can follow (2^53, or a typo): the next start or
	// SIGHUP drops the remote overlay and makes N the current version, so
	// the next document needs a version above N. It happens once per value
	// (data_dir/remote.reset remembers it): leaving the key in the file
	// does not reset again at every start. A remote document may not set
	// it.
	VersionReset *int64 `toml:"version_reset" remote:"local,it is how the box is taken back when remote versions are stuck"`
}

// DefaultRemoteConfig returns the [remote] defaults.
func DefaultRemoteConfig() RemoteConfig {
	return RemoteConfig{ConfirmTimeout: config.D(DefaultConfirmTimeout)}
}

// Validate checks the section; keys are relative to [remote].
func (c *RemoteConfig) Validate() error {
	var errs config.FieldErrors
	for i, a := range c.Allow {
		if err := configSchema.CheckAllowEntry(a); err != nil {
			errs.Add(config.IndexKey("allow", i), "%v", err)
		}
	}
	if c.PublicKey != "" && c.PublicKeyFile != "" {
		errs.Add("public_key", "set public_key or public_key_file, not both")
	}
	if _, err := c.Key(); err != nil {
		key := "public_key"
		if c.PublicKeyFile != "" {
			key = "public_key_file"
		}
		errs.Add(key, "%v", err)
	}
	if r := c.VersionReset; r != nil && (*r < 0 || *r > remote.MaxVersion) {
		errs.Add("version_reset", "must be between 0 and 2^53 (%d), got %d", int64(remote.MaxVersion), *r)
	}
	if c.ConfirmTimeout.Duration < time.Second || c.ConfirmTimeout.Duration > 24*time.Hour {
		errs.Add("confirm_timeout", "must be between 1s and 24h, got %s", c.ConfirmTimeout.Duration)
	}
	return errs.Err()
}

// Key returns the configured public key, nil when none is set.
func (c *RemoteConfig) Key() (ed25519.PublicKey, error) {
	return remote.LoadPublicKey(c.PublicKey, c.PublicKeyFile)
}

// Policy is the allowed-key policy the section describes.
func (c *RemoteConfig) Policy() remote.Policy {
	return remote.NewPolicy(c.Allow)
}
