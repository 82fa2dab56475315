package agent

// The config file is composed here and nowhere else: each package owns the
// struct, defaults and Validate of its own section; this file decodes the
// sections into them, fills the defaults that depend on other sections
// (device id, client id, the default stream), and checks what no section can
// check alone (duplicate names, globs that match nothing).

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/linkwatch"
	"github.com/karana-energy/karana-edge/outputs"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/rules"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/karana"
	"github.com/karana-energy/karana-edge/update"
	"github.com/karana-energy/karana-edge/uplink"
	"github.com/karana-energy/karana-edge/web"
)

// DefaultConfigPath is used when neither -config nor $KARANA_EDGE_CONFIG is set.
const DefaultConfigPath = "/etc/karana-edge/config.toml"

// ConfigEnv names the environment variable that overrides DefaultConfigPath.
const ConfigEnv = "KARANA_EDGE_CONFIG"

// DefaultDataDir is [device] data_dir's default.
const DefaultDataDir = "/var/lib/karana-edge"

// DefaultStreamName names the stream used when the file has no [[stream]].
const DefaultStreamName = "raw"

// DeviceConfig is the [device] section.
type DeviceConfig struct {
	// ID names the box in every topic and batch. Default: derived from the
	// board serial or /etc/machine-id (see DefaultDeviceID).
	ID string `toml:"id"`
	// DataDir holds the buffer database and the control socket.
	DataDir string `toml:"data_dir"`
	// Board is the board profile sensors are checked against: "auto" (the
	// default) detects it from the device tree; a name (boards.Names)
	// forces it, e.g. to check a site's config on a laptop.
	Board string `toml:"board"`
}

// Validate checks the section; keys are relative to [device].
func (c *DeviceConfig) Validate() error {
	var errs config.FieldErrors
	switch {
	case len(c.ID) > MaxDeviceID:
		errs.Add("id", "the device id is %d bytes long; at most %d (it is in every topic and payload, and the common name of the box's certificate)", len(c.ID), MaxDeviceID)
	case !ValidDeviceID(c.ID):
		errs.Add("id", "invalid device id %q: use ASCII letters, digits, '-', '_' and '.' (it is an MQTT topic level)", c.ID)
	}
	if !filepath.IsAbs(c.DataDir) {
		errs.Add("data_dir", "must be an absolute path, got %q", c.DataDir)
	} else if f := fileOnPath(c.DataDir); f != "" {
		errs.Add("data_dir", "%s is a file, not a directory: the buffer cannot be created in %s", f, c.DataDir)
	}
	validateBoard(c.Board, &errs)
	return errs.Err()
}

// fileOnPath returns dir, or the nearest of its ancestors that exists, when
// that is not a directory; "" otherwise. A data_dir that does not exist yet
// is fine: the daemon creates it, and a site's config is often checked on a
// laptop.
func fileOnPath(dir string) string {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			if !fi.IsDir() {
				return p
			}
			return ""
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// MaxDeviceID bounds [device] id: X.509 bounds a certificate's common name
// at 64 characters (RFC 5280, ub-common-name), and the id is one.
const MaxDeviceID = 64

// ValidDeviceID is [device] id's rule: the id is an MQTT topic level and
// part of file names, so ASCII letters, digits, '-', '_' and '.' only, at
// most MaxDeviceID of them.
func ValidDeviceID(s string) bool {
	if s == "" || len(s) > MaxDeviceID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// LogConfig is the [log] section.
type LogConfig struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json (logging.go)
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Validate checks the section; keys are relative to [log].
func (c *LogConfig) Validate() error {
	if _, ok := logLevels[c.Level]; !ok {
		return config.Errorf("level", "must be one of debug, info, warn, error; got %q", c.Level)
	}
	if c.Format != "text" && c.Format != "json" {
		return config.Errorf("format", "must be text or json; got %q", c.Format)
	}
	return nil
}

// SlogLevel is the configured level for log/slog (info when unset or invalid).
func (c LogConfig) SlogLevel() slog.Level {
	if l, ok := logLevels[c.Level]; ok {
		return l
	}
	return slog.LevelInfo
}

// Config is the whole file, with every default filled in.
//
// Its fields with a TOML name are the sections, and nothing else lists
// them: the loader, `check`, config/state and the remote policy all derive
// them from here (configSchema). Each carries a remote tag, the [remote]
// allow entry that lets a remote document set it; a section's own struct
// may tag its keys one by one where they differ (uplink.MQTTConfig,
// RemoteConfig; package remote says how).
type Config struct {
	Device  DeviceConfig          `toml:"device" remote:"device"`
	Log     LogConfig             `toml:"log" remote:"log"`
	Buffer  buffer.Config         `toml:"buffer" remote:"buffer"`
	MQTT    uplink.MQTTConfig     `toml:"mqtt" remote:"mqtt"`
	Sensors []sensors.Config      `toml:"sensor" remote:"sensor"`
	Streams []uplink.StreamConfig `toml:"stream" remote:"stream"`
	Remote  RemoteConfig          `toml:"remote" remote:"remote"`
	// Telemetry is the agent's own health as karana.* readings (telemetry.go).
	Telemetry TelemetryConfig `toml:"telemetry" remote:"telemetry"`
	// Link is the link watchdog (package linkwatch). Local only: a remote
	// document could otherwise turn on reboots fleet-wide, or shorten
	// no_contact under a whole fleet on a bad day for the network.
	Link linkwatch.Config `toml:"link" remote:"local,the link watchdog reboots the box and restarts its modem; it is set on the box, where a mistake cannot reach the whole fleet"`
	// Derives, Rules and Outputs are the rules engine's (rules.go).
	Derives []rules.DeriveConfig `toml:"derive" remote:"derive"`
	Rules   []rules.RuleConfig   `toml:"rule" remote:"rule"`
	Outputs []outputs.Config     `toml:"output" remote:"output"`
	// HTTP is the technician's page and /metrics (package web).
	HTTP web.Config `toml:"http" remote:"local,it opens a port on the box and sets its password"`
	// Update is signed self-update (package update; agent/update.go).
	Update update.Config `toml:"update" remote:"local,who may sign the binary the box runs is decided by the local file alone"`

	// Board is the profile [device] board resolved to: the detected board
	// for "auto". Sensors' buses and pins are checked against it.
	Board boards.Profile `toml:"-"`

	// File is the path the config was loaded from.
	File string `toml:"-"`
	// Warnings are about what loads but is probably not meant (a stream glob
	// that matches no sensor), formatted "file:line:col: key: message".
	Warnings []string `toml:"-"`

	// overlay is the remote document merged over the file (nil: none) and
	// remoteVersion the highest version accepted so far (agent/remote.go).
	overlay       *remote.Doc
	remoteVersion int64
}

// configSchema is Config's sections and what remote documents may set of
// them, from its struct tags.
var configSchema = remote.MustSchema(Config{})

// listSection is how a section that is an array of tables is read and
// written; every other section is one table decoded into its struct.
type listSection struct {
	decode func(c *Config, tables []*config.Table)
	write  func(w io.Writer, c *Config) error
}

var listSections = map[string]listSection{
	"sensor": {
		decode: func(c *Config, tables []*config.Table) { c.Sensors = decodeSensors(tables) },
		write: func(w io.Writer, c *Config) error {
			for i := range c.Sensors {
				s := &c.Sensors[i]
				io.WriteString(w, "\n[[sensor]]\n")
				if err := config.WriteKeys(w, s, s.Options); err != nil {
					return fmt.Errorf("config: sensor %q: %w", s.Name, err)
				}
			}
			return nil
		},
	},
	"stream": {
		decode: func(c *Config, tables []*config.Table) { c.Streams = decodeStreams(tables) },
		write: func(w io.Writer, c *Config) error {
			for i := range c.Streams {
				s := &c.Streams[i]
				io.WriteString(w, "\n[[stream]]\n")
				if err := config.WriteKeys(w, s, s.Options); err != nil {
					return fmt.Errorf("config: stream %q: %w", s.Name, err)
				}
			}
			return nil
		},
	},
}

func init() {
	for _, s := range configSchema.Sections {
		if _, ok := listSections[s]; ok != configSchema.IsList(s) {
			panic(fmt.Sprintf("agent: section %q: listSections and Config disagree on whether it is an array of tables", s))
		}
	}
}

// ConfigPath picks the config file: the -config flag, else
// $KARANA_EDGE_CONFIG, else /etc/karana-edge/config.toml.
func ConfigPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(ConfigEnv); env != "" {
		return env
	}
	return DefaultConfigPath
}

// LoadConfig reads, parses, fills defaults and validates the file at path.
// A file that cannot be read is reported as a wrapped *fs.PathError (so
// errors.Is(err, fs.ErrNotExist) works); every mistake in its content comes
// as one config.Errors, sorted by line.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on bytes already read; name is used in messages.
func ParseConfig(name string, data []byte) (*Config, error) {
	doc, root, err := config.Parse(name, data)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Device: DeviceConfig{DataDir: DefaultDataDir, Board: DefaultBoard},
		Log:    LogConfig{Level: "info", Format: "text"},
		Buffer: buffer.DefaultConfig(),
		MQTT:   uplink.DefaultMQTTConfig(),
		Remote: DefaultRemoteConfig(),
		File:   name,

		Telemetry: DefaultTelemetryConfig(),
		Link:      linkwatch.DefaultConfig(),
		Update:    update.DefaultConfig(),
	}
	var unknown []string
	for _, key := range root.Keys() {
		dst := configSchema.Section(c, key)
		switch {
		case dst == nil:
			unknown = append(unknown, key)
		case configSchema.IsList(key):
			listSections[key].decode(c, root.Tables(key))
		default:
			decodeSection(root, key, dst)
		}
	}
	root.Unknown(unknown, configSchema.Sections, func(key string) string {
		switch root.Value(key).(type) {
		case map[string]any, []map[string]any:
			return ""
		}
		return "; keys belong inside a section such as [device] or [mqtt]"
	})

	c.fillDefaults(doc)
	c.validate(doc)
	if err := doc.Err(); err != nil {
		return nil, err
	}
	c.Warnings = doc.Warnings()
	return c, nil
}

// decodeSection decodes the table root[key] into dst, strictly.
func decodeSection(root *config.Table, key string, dst any) {
	if t := root.Table(key); t != nil {
		t.DecodeStrict(dst)
	}
}

// decodeSensors decodes each [[sensor]] over the common defaults, with the
// driver's own options decoded from the same table and validated by the
// driver's constructor.
func decodeSensors(tables []*config.Table) []sensors.Config {
	out := make([]sensors.Config, 0, len(tables))
	for _, t := range tables {
		sc := sensors.DefaultConfig()
		drvName, _ := t.String("driver")
		drv, known := sensors.Lookup(drvName)
		var opts any
		if known {
			opts = drv.Options()
		}
		unknown := t.Decode(&sc, opts)
		// With an unknown driver its option keys cannot be told from typos;
		// the driver error is the one that matters then.
		if known && len(unknown) > 0 {
			t.Unknown(unknown, config.AllowedKeys(&sc, opts), otherDriverHint(drvName))
		}
		sc.Options = opts
		sc.FillDefaults()
		t.Fail(sc.Validate())
		if known && !t.Failed("driver") {
			s, err := drv.New(sc.Name, opts)
			t.Fail(err)
			if s != nil {
				_ = s.Close() // New opened nothing; Close keeps drivers honest
			}
		}
		out = append(out, sc)
	}
	return out
}

// otherDriverHint tells a user who copied a key from another driver's
// sensor which driver it belongs to.
func otherDriverHint(driver string) func(key string) string {
	return func(key string) string {
		var owners []string
		for _, name := range sensors.DriverNames() {
			d, _ := sensors.Lookup(name)
			if name == driver {
				continue
			}
			if slices.Contains(config.AllowedKeys(d.Options()), key) {
				owners = append(owners, fmt.Sprintf("%q", name))
			}
		}
		if len(owners) == 0 {
			return ""
		}
		return fmt.Sprintf(": driver %q has no option %q (driver %s has)", driver, key, strings.Join(owners, ", "))
	}
}

// decodeStreams decodes each [[stream]] over the stream defaults, with the
// format's own options decoded from the same table.
func decodeStreams(tables []*config.Table) []uplink.StreamConfig {
	out := make([]uplink.StreamConfig, 0, len(tables))
	for _, t := range tables {
		out = append(out, uplink.DecodeStream(t))
	}
	return out
}

// fillDefaults sets what depends on other sections or on the machine.
func (c *Config) fillDefaults(doc *config.Doc) {
	if c.Device.ID == "" {
		id, err := DefaultDeviceID(systemRoot)
		if err != nil {
			doc.Errorf("device.id", "not set and %v; set id in [device]", err)
			c.Device.ID = "unknown"
		} else {
			c.Device.ID = id
		}
	}
	c.Board = resolveBoard(c.Device.Board, systemRoot)
	if c.MQTT.ClientID == "" && ValidDeviceID(c.Device.ID) {
		// (an invalid id is reported at device.id alone)
		c.MQTT.ClientID = c.Device.ID
	}
	if c.Streams == nil && !doc.Keys().Has("stream") {
		s := uplink.DefaultStreamConfig()
		s.Name = DefaultStreamName
		if err := s.Validate(); err != nil {
			doc.Errorf("stream", "the default stream %q (used as no [[stream]] is configured): %v", s.Name, err)
		}
		c.Streams = []uplink.StreamConfig{s}
	}
}

// validate runs each section's Validate and the checks across sections.
func (c *Config) validate(doc *config.Doc) {
	for _, s := range configSchema.Sections {
		if v, ok := configSchema.Section(c, s).(interface{ Validate() error }); ok {
			doc.Fail(s, v.Validate())
		}
	}

	if len(c.Sensors) == 0 && !doc.Keys().Has("sensor") {
		doc.Errorf("sensor", "no sensors configured: add a [[sensor]] table (driver \"sim\" simulates one)")
	}
	seen := map[string]int{}
	for i, s := range c.Sensors {
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			doc.Errorf(config.IndexKey("sensor", i)+".name", "duplicate sensor name %q (also %s)", s.Name, where(doc, config.IndexKey("sensor", j)))
			continue
		}
		seen[s.Name] = i
		if s.Name == karana.Name && c.Telemetry.Interval.Duration > 0 {
			doc.Errorf(config.IndexKey("sensor", i)+".name", "sensor name %q is the agent's own telemetry (karana.* series): pick another, or set [telemetry] interval = \"0s\"", s.Name)
		}
	}
	seen = map[string]int{}
	for i, s := range c.Streams {
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			doc.Errorf(config.IndexKey("stream", i)+".name", "duplicate stream name %q (also %s)", s.Name, where(doc, config.IndexKey("stream", j)))
			continue
		}
		seen[s.Name] = i
	}
	c.warnUnmatchedGlobs(doc)
	c.checkBoard(doc)
	c.checkMQTTFiles(doc)
	c.checkTopics(doc)
	c.checkRules(doc)
	c.checkUpdate(doc)
}

// where names a table and its line for a message.
func where(doc *config.Doc, path string) string {
	if p := doc.Pos(path); p.Line > 0 {
		return fmt.Sprintf("%s at line %d", path, p.Line)
	}
	return path
}

// Topic returns the topic prefix with {device} replaced, joined by "/" with
// parts: Topic("data", "raw") is "karana/site-042/data/raw".
func (c *Config) Topic(parts ...string) string {
	prefix := strings.ReplaceAll(c.MQTT.TopicPrefix, "{device}", c.Device.ID)
	return strings.Join(append([]string{prefix}, parts...), "/")
}
