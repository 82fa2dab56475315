package uplink

import (
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// MQTTConfig is the [mqtt] section.
type MQTTConfig struct {
	Broker       string          `toml:"broker"`    // tcp:// tls:// ssl:// ws:// wss://
	ClientID     string          `toml:"client_id"` // default: the device id
	Username     string          `toml:"username"`
	PasswordFile string          `toml:"password_file"` // the password is read from this file, never written in the config
	CAFile       string          `toml:"ca_file"`
	CertFile     string          `toml:"cert_file"`
	KeyFile      string          `toml:"key_file"`
	TopicPrefix  string          `toml:"topic_prefix"` // "{device}" is replaced by the device id
	Keepalive    config.Duration `toml:"keepalive"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout config.Duration `toml:"connect_timeout"`
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff;
	// each wait is jittered so a fleet does not stampede a restarted broker.
	ReconnectMin config.Duration `toml:"reconnect_min"`
	ReconnectMax config.Duration `toml:"reconnect_max"`
	// PublishTimeout is how long a batch may wait for its PUBACK before the
	// stream gives up on it and resends from its cursor.
	PublishTimeout config.Duration `toml:"publish_timeout"`
	// Inflight is the number of batches a stream keeps unacknowledged at once
	// while draining a backlog.
	Inflight int `toml:"inflight"`
}

// DefaultMQTTConfig returns the [mqtt] defaults.
func DefaultMQTTConfig() MQTTConfig {
	return MQTTConfig{
		Broker:         "tcp://127.0.0.1:1883",
		TopicPrefix:    "karana/{device}",
		Keepalive:      config.D(60 * time.Second),
		ConnectTimeout: config.D(30 * time.Second),
		ReconnectMin:   config.D(time.Second),
		ReconnectMax:   config.D(5 * time.Minute),
		PublishTimeout: config.D(60 * time.Second),
		Inflight:       4,
	}
}

// Validate checks the section; keys are relative to [mqtt].
func (c *MQTTConfig) Validate() error {
	var errs config.FieldErrors
	u, err := url.Parse(c.Broker)
	switch {
	case c.Broker == "":
		errs.Add("broker", "must be set, e.g. \"tcp://broker.example.com:1883\"")
	case err != nil:
		errs.Add("broker", "invalid URL %q: %v", c.Broker, err)
	default:
		switch u.Scheme {
		case "tcp", "mqtt", "tls", "ssl", "mqtts", "ws", "wss":
		default:
			errs.Add("broker", "unsupported scheme %q in %q (use tcp://, tls://, ssl://, ws:// or wss://)", u.Scheme, c.Broker)
		}
		if u.Host == "" {
			errs.Add("broker", "missing host in %q", c.Broker)
		}
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") || strings.HasSuffix(c.TopicPrefix, "/") {
		errs.Add("topic_prefix", "must be a non-empty topic without wildcards or trailing '/', got %q", c.TopicPrefix)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs.Add("cert_file", "cert_file and key_file must be set together")
	}
	if c.Keepalive.Duration < time.Second {
		errs.Add("keepalive", "must be at least 1s, got %s", c.Keepalive.Duration)
	}
	if c.ConnectTimeout.Duration <= 0 {
		errs.Add("connect_timeout", "must be positive")
	}
	if c.ReconnectMin.Duration <= 0 || c.ReconnectMax.Duration < c.ReconnectMin.Duration {
		errs.Add("reconnect_max", "need 0 < reconnect_min (%s) <= reconnect_max (%s)", c.ReconnectMin.Duration, c.ReconnectMax.Duration)
	}
	if c.PublishTimeout.Duration < time.Second {
		errs.Add("publish_timeout", "must be at least 1s, got %s", c.PublishTimeout.Duration)
	}
	if c.Inflight < 1 || c.Inflight > 64 {
		errs.Add("inflight", "must be between 1 and 64, got %d", c.Inflight)
	}
	return errs.Err()
}

// StreamConfig is one [[stream]] table.
type StreamConfig struct {
	Name   string          `toml:"name"`
	Period config.Duration `toml:"period"` // batch period
	Format string          `toml:"format"` // uplink/format registry name
	Match  []string        `toml:"match"`  // series-name globs (path.Match syntax)
	// MaxBatch bounds the readings in one published batch; a longer backlog
	// goes out as several batches back to back.
	MaxBatch int `toml:"max_batch"`
}

// DefaultStreamConfig returns a stream's defaults (the name is left empty).
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		Period:   config.D(60 * time.Second),
		Format:   "json",
		Match:    []string{"*"},
		MaxBatch: 1000,
	}
}

// Validate checks one stream; keys are relative to its [[stream]] table.
func (c *StreamConfig) Validate() error {
	var errs config.FieldErrors
	if !reading.ValidName(c.Name) || strings.Contains(c.Name, ".") {
		errs.Add("name", "invalid stream name %q: use ASCII letters, digits, '-' and '_'", c.Name)
	}
	if c.Period.Duration < 0 {
		errs.Add("period", "must not be negative, got %s", c.Period.Duration)
	}
	if _, ok := format.Lookup(c.Format); !ok {
		errs.Add("format", "unknown format %q (known: %s)", c.Format, strings.Join(format.Names(), ", "))
	}
	if len(c.Match) == 0 {
		errs.Add("match", "must list at least one series glob, e.g. [\"*\"]")
	}
	for _, g := range c.Match {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			errs.Add("match", "invalid glob %q", g)
		}
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100000 {
		errs.Add("max_batch", "must be between 1 and 100000, got %d", c.MaxBatch)
	}
	return errs.Err()
}
