package uplink

import (
	"errors"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// MQTTConfig is the [mqtt] section.
//
// Each key's remote tag says what a remote config document needs in
// [remote] allow to change it (package remote): "mqtt" for the section,
// a guarded entry on top of it for what decides where the box connects and
// whom it trusts, "budget" for the link-cost keys, which that entry allows
// without the rest of the section. A key without a tag fails the agent's
// tests.
type MQTTConfig struct {
	Broker       string `toml:"broker" remote:"mqtt.broker"`    // tcp:// tls:// ssl:// ws:// wss://
	ClientID     string `toml:"client_id" remote:"mqtt.broker"` // default: the device id
	Username     string `toml:"username" remote:"mqtt.credentials"`
	PasswordFile string `toml:"password_file" remote:"mqtt.credentials"` // the password is read from this file, never written in the config
	CAFile       string `toml:"ca_file" remote:"mqtt.tls"`
	CertFile     string `toml:"cert_file" remote:"mqtt.tls"`
	KeyFile      string `toml:"key_file" remote:"mqtt.tls"`
	// ServerName is the name the broker's certificate is checked against
	// (and sent as TLS SNI) when it differs from the broker URL's host,
	// e.g. a broker reached by IP address or through a tunnel. It decides
	// whom the box trusts, as the TLS files do.
	ServerName string `toml:"server_name" remote:"mqtt.tls"`
	// CleanSession false (the default) asks the broker to keep the
	// device's MQTT session (its subscriptions and the QoS 1 config/set
	// and cmd/* messages queued for it while offline) across connections,
	// under the stable client id. Data batches are resent from the stream
	// cursors either way, never from the MQTT session.
	CleanSession bool            `toml:"clean_session" remote:"mqtt"`
	TopicPrefix  string          `toml:"topic_prefix" remote:"mqtt.broker"` // "{device}" is replaced by the device id
	Keepalive    config.Duration `toml:"keepalive" remote:"mqtt"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout config.Duration `toml:"connect_timeout" remote:"mqtt"`
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff;
	// each wait is jittered so a fleet does not stampede a restarted broker.
	ReconnectMin config.Duration `toml:"reconnect_min" remote:"mqtt"`
	ReconnectMax config.Duration `toml:"reconnect_max" remote:"mqtt"`
	// PublishTimeout is how long a batch may wait for its PUBACK before the
	// stream gives up on it and resends from its cursor.
	PublishTimeout config.Duration `toml:"publish_timeout" remote:"mqtt"`
	// Inflight is the number of batches a stream keeps unacknowledged at once
	// while draining a backlog.
	Inflight int `toml:"inflight" remote:"mqtt"`
	// Budget caps the bytes sent per UTC day and/or month (budget.go); once
	// spent only essential streams publish.
	Budget Budget `toml:"budget" remote:"budget"`
	// RateLimit caps the data publish rate, "2KiB/s" (ratelimit.go).
	RateLimit Rate `toml:"rate_limit" remote:"budget"`
	// Windows are the times the link may be up (windows.go); empty: always.
	Windows Windows `toml:"windows" remote:"budget"`
}

// DefaultMQTTConfig returns the [mqtt] defaults.
func DefaultMQTTConfig() MQTTConfig {
	return MQTTConfig{
		Broker:         "tcp://127.0.0.1:1883",
		TopicPrefix:    "karana/{device}",
		Keepalive:      config.D(DefaultKeepalive),
		ConnectTimeout: config.D(30 * time.Second),
		ReconnectMin:   config.D(time.Second),
		ReconnectMax:   config.D(5 * time.Minute),
		PublishTimeout: config.D(60 * time.Second),
		Inflight:       4,
		CleanSession:   false,
	}
}

// DefaultKeepalive is the MQTT keepalive for a metered link. Each idle
// keepalive period costs a PINGREQ and a PINGRESP: 4 bytes of MQTT, 48 at
// the socket with TLS 1.3 records, ~150 B with IP and TCP headers and an
// ACK. At 60 s that is 1,440 pings a day (69 kB at the socket, ~0.2 MB
// billed), at 240 s a quarter of it; and a period with data published
// sends no ping at all. Longer is cheaper but meets the carrier's NAT: a
// mapping idle past its timeout is dropped silently, the box learns of it
// only at its next ping or publish, and commands wait until then. Mobile
// carriers' TCP idle timeouts are seldom below 5 minutes; 4 minutes stays
// under that. README "Metered links" says when to change it.
const DefaultKeepalive = 240 * time.Second

// Validate checks the section; keys are relative to [mqtt].
func (c *MQTTConfig) Validate() error {
	var errs config.FieldErrors
	u, err := c.validateBroker(&errs)
	c.validateStrings(&errs)
	if c.ServerName != "" && (strings.ContainsAny(c.ServerName, ":/ ") || err != nil || !isTLSScheme(u.Scheme)) {
		errs.Add("server_name", "must be a host name (no scheme or port) and needs a TLS broker (tls://, ssl://, mqtts://, wss://); got %q with broker %q", c.ServerName, c.Broker)
	}
	c.validateFiles(&errs, c.Broker != "" && err == nil && !isTLSScheme(u.Scheme))
	if c.Keepalive.Duration < time.Second || c.Keepalive.Duration > maxKeepalive {
		errs.Add("keepalive", "must be from 1s to %s (MQTT carries it as 16-bit seconds), got %s", maxKeepalive, c.Keepalive.Duration)
	}
	if c.ConnectTimeout.Duration < time.Second {
		// less fits no TCP and TLS handshake: every attempt would time out
		errs.Add("connect_timeout", "must be at least 1s, got %s", c.ConnectTimeout.Duration)
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
	if _, err := c.Windows.Parse(); err != nil {
		errs.Add("windows", "%v", err)
	}
	if c.RateLimit < 0 {
		errs.Add("rate_limit", "must not be negative")
	}
	if _, _, err := c.Budget.Limits(); err != nil {
		errs.Add("budget", "%v", err)
	}
	return errs.Err()
}

// LoadFiles reads password_file and the TLS files and builds the TLS
// config as New does, so that `check` fails on a file the daemon could not
// use (no PEM in ca_file, a key that does not match its certificate).
func (c *MQTTConfig) LoadFiles() error {
	_, err := loadTransport(c)
	return err
}

// maxKeepalive is the longest keepalive CONNECT can carry: 65535 seconds.
const maxKeepalive = 65535 * time.Second

// MaxClientID bounds client_id: MQTT 3.1.1 promises only 23 bytes, and
// brokers such as AWS IoT Core and Azure IoT Hub refuse more than 128.
const MaxClientID = 128

// maxMQTTString is the longest string an MQTT packet can carry.
const maxMQTTString = 65535

// validateBroker checks broker and returns it parsed (err from url.Parse):
// a port the dialer cannot use would otherwise be retried forever.
func (c *MQTTConfig) validateBroker(errs *config.FieldErrors) (*url.URL, error) {
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
		port := u.Port()
		n, perr := strconv.Atoi(port)
		switch {
		case u.Hostname() == "":
			errs.Add("broker", "missing host in %q", c.Broker)
		case port == "" && strings.HasSuffix(u.Host, ":"):
			errs.Add("broker", "empty port in %q (leave out the ':' for the scheme's default port)", c.Broker)
		case port != "" && (perr != nil || n < 1 || n > 65535):
			errs.Add("broker", "port %s in %q is not from 1 to 65535", port, c.Broker)
		}
	}
	return u, err
}

// validateFiles checks what New would refuse about the files before
// reading them; plain tells a broker without TLS.
func (c *MQTTConfig) validateFiles(errs *config.FieldErrors, plain bool) {
	if c.PasswordFile != "" && c.Username == "" {
		errs.Add("password_file", "%s is set but username is empty (MQTT 3.1.1 sends a password only with a username)", c.PasswordFile)
	}
	if plain {
		for _, kf := range [][2]string{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
			if kf[1] != "" {
				errs.Add(kf[0], "%s is set but broker %q is not TLS (use tls://, ssl://, mqtts:// or wss://)", kf[1], c.Broker)
			}
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs.Add("cert_file", "cert_file and key_file must be set together")
	}
}

// validateStrings checks what goes into CONNECT and every topic: UTF-8
// without control characters (MQTT forbids NUL, and a topic with a newline
// or tab is one nobody can subscribe to by hand), and within bounds.
func (c *MQTTConfig) validateStrings(errs *config.FieldErrors) {
	switch {
	case c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") || strings.HasSuffix(c.TopicPrefix, "/"):
		errs.Add("topic_prefix", "must be a non-empty topic without wildcards or trailing '/', got %q", c.TopicPrefix)
	case strings.HasPrefix(c.TopicPrefix, "$"):
		errs.Add("topic_prefix", "must not start with '$': brokers keep such topics ($SYS) to themselves, got %q", c.TopicPrefix)
	default:
		mqttString(errs, "topic_prefix", c.TopicPrefix, maxMQTTString)
	}
	mqttString(errs, "client_id", c.ClientID, MaxClientID)
	mqttString(errs, "username", c.Username, maxMQTTString)
}

// mqttString checks a string MQTT carries; the message never quotes a
// value that is too long to read.
func mqttString(errs *config.FieldErrors, key, v string, max int) {
	switch {
	case len(v) > max:
		errs.Add(key, "is %d bytes; at most %d", len(v), max)
	case !utf8.ValidString(v):
		errs.Add(key, "%q is not valid UTF-8", v)
	case strings.ContainsFunc(v, unicode.IsControl):
		errs.Add(key, "%q holds a control character", v)
	}
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
	// Compress is none, gzip or zstd; a compressed stream publishes on
	// data/<stream>/gz or data/<stream>/zst (format.Compressions).
	Compress string `toml:"compress"`
	// Tags are static key/value pairs (site, customer) that reach the
	// formatter: influx tags, the senml base name, json "tags", template
	// .Tags; csv leaves them out.
	Tags map[string]string `toml:"tags"`
	// Aggregate, when set, makes the stream publish per-window statistics
	// of the matched series instead of raw readings (aggregate.go).
	Aggregate config.Duration `toml:"aggregate"`
	// Functions are the statistics of an aggregate stream
	// (AggregateFunctions); default DefaultAggregateFunctions.
	Functions []string `toml:"functions"`
	// MaxBatchBytes bounds a published payload (after compression); a
	// batch over it is split. 0: no bound.
	MaxBatchBytes config.Size `toml:"max_batch_bytes"`
	// Priority orders the backlogs when the link returns: a stream's
	// backlog waits while a stream of higher priority drains its own
	// (priority.go). Default 0.
	Priority int `toml:"priority"`
	// Backfill is oldest-first or newest-first (BackfillNewestFirst: the
	// newest batch goes first, then the backlog from the cursor).
	Backfill string `toml:"backfill"`
	// Essential streams keep publishing once the data budget is spent.
	Essential bool `toml:"essential"`

	// Options are the format's own keys (template, command, csv_header
	// ...), decoded from the same table into the struct the format
	// registered (format.Options; DecodeStream does it); nil means the
	// format's defaults.
	Options any `toml:"-"`
}

// AggregateFunctions returns the functions of an aggregate stream (the
// defaults when none are set), nil for a raw stream.
func (c *StreamConfig) AggregateFunctions() []string {
	switch {
	case c.Aggregate.Duration == 0:
		return nil
	case len(c.Functions) == 0:
		return DefaultAggregateFunctions()
	}
	return c.Functions
}

// AggregateName is the window as batches carry it ("1m", "1h30m"); empty
// for a raw stream.
func (c *StreamConfig) AggregateName() string {
	d := c.Aggregate.Duration
	if d <= 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// DefaultStreamConfig returns a stream's defaults (the name is left empty).
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		Period:   config.D(60 * time.Second),
		Format:   "json",
		Match:    []string{"*"},
		MaxBatch: 1000,
		Compress: format.CompressNone,
		Backfill: BackfillOldestFirst,
	}
}

// DecodeStream decodes one [[stream]] table over the stream defaults, with
// the format's own options from the same table, and validates it; every
// mistake is recorded in t's document with its position.
func DecodeStream(t *config.Table) StreamConfig {
	sc := DefaultStreamConfig()
	name := sc.Format
	if f, ok := t.String("format"); ok {
		name = f
	}
	sc.Options = format.Decode(t, name, &sc)
	t.Fail(sc.Validate())
	return sc
}

// Formatter returns the stream's formatter, configured with its options
// and tags.
func (c *StreamConfig) Formatter() (format.Formatter, error) {
	return format.Configure(c.Format, c.Options, c.Tags)
}

// TopicLevels are the topic levels under the device prefix that the
// stream publishes on: data/<name>, and a level for the compression
// (data/<name>/gz, data/<name>/zst).
func (c *StreamConfig) TopicLevels() []string {
	levels := []string{"data", c.Name}
	if l := format.CompressTopicLevel(c.Compress); l != "" {
		levels = append(levels, l)
	}
	return levels
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
	} else if _, err := c.Formatter(); err != nil {
		var fe config.FieldErrors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
		} else {
			errs.Add("format", "%v", err)
		}
	}
	if !format.ValidCompression(c.Compress) {
		errs.Add("compress", "must be one of %s; got %q", strings.Join(format.Compressions(), ", "), c.Compress)
	}
	validateTags(&errs, c.Tags)
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
	if c.MaxBatchBytes < 0 || (c.MaxBatchBytes > 0 && c.MaxBatchBytes < minBatchBytes) {
		errs.Add("max_batch_bytes", "must be 0 (no bound) or at least %d bytes, got %d", minBatchBytes, int64(c.MaxBatchBytes))
	}
	validateAggregate(&errs, c)
	if c.Priority < -1000 || c.Priority > 1000 {
		errs.Add("priority", "must be between -1000 and 1000, got %d", c.Priority)
	}
	switch c.Backfill {
	case BackfillOldestFirst:
	case BackfillNewestFirst:
		if c.Aggregate.Duration > 0 {
			errs.Add("backfill", "%q needs a raw stream: aggregate windows go out in order", c.Backfill)
		}
	default:
		errs.Add("backfill", "must be %q or %q, got %q", BackfillOldestFirst, BackfillNewestFirst, c.Backfill)
	}
	return errs.Err()
}

// Tag limits: tags travel in every batch (and become InfluxDB series keys),
// so a few short ones.
const (
	maxTags        = 32
	maxTagValueLen = 256
)

// validateTags checks a stream's tags: keys like series names without dots
// (letters, digits, '-', '_'), not starting with '_' (InfluxDB reserves
// those) nor named device or clock (the influx format sets them); values
// non-empty UTF-8 text without control characters or a trailing backslash,
// which line protocol cannot carry.
func validateTags(errs *config.FieldErrors, tags map[string]string) {
	if len(tags) > maxTags {
		errs.Add("tags", "at most %d tags, got %d", maxTags, len(tags))
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := tags[k]
		key := config.JoinKey("tags", k)
		switch {
		case !reading.ValidName(k) || strings.Contains(k, "."):
			errs.Add(key, "invalid tag key %q: use ASCII letters, digits, '-' and '_'", k)
		case k[0] == '_':
			errs.Add(key, "tag key %q must not start with '_' (InfluxDB reserves such keys)", k)
		case k == "device" || k == "clock":
			errs.Add(key, "tag key %q is reserved: the influx format sets it", k)
		}
		switch {
		case v == "":
			errs.Add(key, "empty tag value")
		case len(v) > maxTagValueLen:
			errs.Add(key, "tag value longer than %d bytes", maxTagValueLen)
		case !utf8.ValidString(v):
			errs.Add(key, "tag value %q is not valid UTF-8", v)
		case strings.ContainsFunc(v, unicode.IsControl):
			errs.Add(key, "tag value %q holds a control character", v)
		case strings.HasSuffix(v, `\`):
			errs.Add(key, "tag value %q ends with a backslash, which InfluxDB line protocol cannot carry", v)
		}
	}
}

// minBatchBytes is the smallest max_batch_bytes: a batch header alone
// (device, stream, seqs, tags) takes a few hundred bytes in json.
const minBatchBytes = 512

// maxAggregate bounds the window: a longer one holds a stream's cursor
// back for that long.
const maxAggregate = 24 * time.Hour

func validateAggregate(errs *config.FieldErrors, c *StreamConfig) {
	d := c.Aggregate.Duration
	switch {
	case d == 0:
		if len(c.Functions) > 0 {
			errs.Add("functions", "set without aggregate; add e.g. aggregate = \"1m\" or remove functions")
		}
		return
	case d < time.Second || d > maxAggregate:
		errs.Add("aggregate", "must be between 1s and %s, got %s", maxAggregate, d)
	case d%time.Second != 0:
		errs.Add("aggregate", "must be a whole number of seconds, got %s", d)
	case (24*time.Hour)%d != 0:
		errs.Add("aggregate", "must divide a day evenly so that windows align on the clock (1m, 5m, 15m, 1h ...), got %s", d)
	}
	seen := map[string]bool{}
	for i, fn := range c.Functions {
		key := config.IndexKey("functions", i)
		switch {
		case !slices.Contains(AggregateFunctions(), fn):
			errs.Add(key, "unknown function %q (known: %s)", fn, strings.Join(AggregateFunctions(), ", "))
		case seen[fn]:
			errs.Add(key, "function %q listed twice", fn)
		}
		seen[fn] = true
	}
	if c.Functions != nil && len(c.Functions) == 0 {
		errs.Add("functions", "must list at least one function (known: %s)", strings.Join(AggregateFunctions(), ", "))
	}
}
