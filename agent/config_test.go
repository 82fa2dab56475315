package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink"
)

// oneSensor is the smallest valid sensor table, for cases about other sections.
const oneSensor = `
[[sensor]]
name = "gen"
driver = "testdrv"
`

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		toml string
		// want is a substring of the one error expected (or of the first,
		// when n says there are more), at line (and col when not 0).
		want      string
		key       string
		line, col int
		n         int // number of errors expected; 0 means 1
	}{
		{
			name: "syntax error",
			toml: "[buffer]\nmax_bytes = \"1MiB\nx = 1\n",
			want: "syntax error: strings cannot contain newlines", line: 2, col: 18,
		},
		{
			name: "duplicate key is a syntax error",
			toml: "[buffer]\nmax_bytes = \"1MiB\"\nmax_bytes = \"2MiB\"\n" + oneSensor,
			want: "syntax error", line: 3,
		},
		{
			name: "wrong type for a duration",
			toml: oneSensor + "interval = 10\n",
			want: `invalid duration 10: a duration is a string with a unit`, key: "sensor[0].interval", line: 5, col: 1,
		},
		{
			name: "wrong type for a string",
			toml: "[[sensor]]\nname = 5\ndriver = \"testdrv\"\n",
			want: `wrong type: got integer 5, want a string`, key: "sensor[0].name", line: 2, col: 1,
		},
		{
			name: "wrong type for a driver option",
			toml: oneSensor + "amplitude = \"high\"\n",
			want: `wrong type: got string "high", want a number`, key: "sensor[0].amplitude", line: 5, col: 1,
		},
		{
			name: "wrong type for a section",
			toml: "buffer = 5\n" + oneSensor,
			want: "wrong type: got integer 5, want a table ([buffer])", key: "buffer", line: 1, col: 1,
		},
		{
			name: "sensor written as a table, not an array of tables",
			toml: "[sensor]\nname = \"gen\"\ndriver = \"testdrv\"\n",
			want: "want an array of tables ([[sensor]])", key: "sensor", line: 1, col: 1,
		},
		{
			name: "unknown top-level key",
			toml: "foo = 1\n" + oneSensor,
			want: "unknown top-level key; keys belong inside a section", key: "foo", line: 1, col: 1,
		},
		{
			name: "unknown section with suggestion",
			toml: "[buffers]\nmax_bytes = \"1MiB\"\n" + oneSensor,
			want: `unknown section (did you mean "buffer"?)`, key: "buffers", line: 1, col: 1,
		},
		{
			name: "unknown key in [buffer]",
			toml: "[buffer]\n  max_byte = \"1MiB\"\n" + oneSensor,
			want: `unknown key (did you mean "max_bytes"?)`, key: "buffer.max_byte", line: 2, col: 3,
		},
		{
			name: "typo in the second sensor",
			toml: oneSensor + "\n[[sensor]]\nname = \"gen2\"\ndriver = \"testdrv\"\nintervall = \"1s\"\n",
			want: `unknown key (did you mean "interval"?)`, key: "sensor[1].intervall", line: 9, col: 1,
		},
		{
			name: "option of another driver",
			toml: oneSensor + "address = 0x40\n",
			want: `unknown key: driver "testdrv" has no option "address" (driver "testi2c" has)`, key: "sensor[0].address", line: 5, col: 1,
		},
		{
			name: "key case matters",
			toml: oneSensor + "Interval = \"1s\"\n",
			want: `unknown key (did you mean "interval"?)`, key: "sensor[0].Interval", line: 5,
		},
		{
			name: "bad duration",
			toml: oneSensor + "interval = \"10 s\"\n",
			want: `invalid duration "10 s" (use e.g. "500ms", "10s", "5m")`, key: "sensor[0].interval", line: 5, col: 1,
		},
		{
			name: "bad size",
			toml: "[buffer]\nmax_bytes = \"64 MB/s\"\n" + oneSensor,
			want: `invalid size "64 MB/s"`, key: "buffer.max_bytes", line: 2, col: 1,
		},
		{
			name: "unknown driver",
			toml: "[[sensor]]\nname = \"t\"\ndriver = \"bme999\"\nwhatever = 1\n",
			want: `unknown driver "bme999" (known: `, key: "sensor[0].driver", line: 3, col: 1,
		},
		{
			name: "missing driver",
			toml: "[[sensor]]\nname = \"t\"\n",
			want: `driver: must be set`, key: "sensor[0].driver", line: 1, col: 1,
		},
		{
			name: "unknown format",
			toml: oneSensor + "[[stream]]\nname = \"s\"\nformat = \"xml\"\n",
			want: `unknown format "xml"`, key: "stream[0].format", line: 7, col: 1,
		},
		{
			name: "invalid sensor name",
			toml: "[[sensor]]\nname = \"bad name\"\ndriver = \"testdrv\"\n",
			want: `invalid sensor name "bad name"`, key: "sensor[0].name", line: 2, col: 1,
		},
		{
			name: "invalid stream name",
			toml: oneSensor + "[[stream]]\nname = \"a.b\"\n",
			want: `invalid stream name "a.b"`, key: "stream[0].name", line: 6, col: 1,
		},
		{
			name: "duplicate sensor",
			toml: oneSensor + oneSensor,
			want: `duplicate sensor name "gen" (also sensor[0] at line 2)`, key: "sensor[1].name", line: 7, col: 1,
		},
		{
			name: "duplicate stream",
			toml: oneSensor + "[[stream]]\nname = \"s\"\n[[stream]]\nname = \"s\"\nformat = \"testfmt\"\n",
			want: `duplicate stream name "s" (also stream[0] at line 5)`, key: "stream[1].name", line: 8, col: 1,
		},
		{
			name: "bad broker URL",
			toml: "[mqtt]\nbroker = \"http://example.com\"\n" + oneSensor,
			want: `unsupported scheme "http"`, key: "mqtt.broker", line: 2, col: 1,
		},
		{
			name: "max_bytes too small",
			toml: "[buffer]\nmax_bytes = \"1KiB\"\n" + oneSensor,
			want: "must be at least 256KiB, got 1KiB", key: "buffer.max_bytes", line: 2, col: 1,
		},
		{
			name: "driver option rejected by New",
			toml: oneSensor + "  waveform = \"square\"\n",
			want: `unknown waveform "square" (use sine or ramp)`, key: "sensor[0].waveform", line: 5, col: 3,
		},
		{
			name: "plain error from New points at the table",
			toml: "\n\n" + oneSensor + "amplitude = 1e9\n",
			want: "testdrv: amplitude too large to simulate", key: "sensor[0]", line: 4, col: 1,
		},
		{
			name: "validation across keys",
			toml: oneSensor + "interval = \"1s\"\ntimeout = \"2s\"\n",
			want: "must be positive and at most the interval (1s), got 2s", key: "sensor[0].timeout", line: 6, col: 1,
		},
		{
			name: "an error about a key left at its default points at the table",
			toml: "\n[mqtt]\nreconnect_min = \"10m\"\n" + oneSensor,
			want: "need 0 < reconnect_min (10m0s) <= reconnect_max (5m0s)", key: "mqtt.reconnect_max", line: 2, col: 1,
		},
		{
			name: "no sensors",
			toml: "[device]\nid = \"x\"\n",
			want: "no sensors configured", key: "sensor", line: 0,
		},
		{
			name: "bad log level",
			toml: "[log]\nlevel = \"verbose\"\n" + oneSensor,
			want: `must be one of debug, info, warn, error; got "verbose"`, key: "log.level", line: 2, col: 1,
		},
		{
			name: "bad device id",
			toml: "[device]\nid = \"site 42/a\"\n" + oneSensor,
			want: `invalid device id "site 42/a"`, key: "device.id", line: 2, col: 1,
		},
		{
			name: "relative data_dir",
			toml: "[device]\ndata_dir = \"data\"\n" + oneSensor,
			want: `must be an absolute path`, key: "device.data_dir", line: 2, col: 1,
		},
		{
			name: "bad glob in an inline array",
			toml: oneSensor + "[[stream]]\nname = \"s\"\nmatch = [\n  \"gen.*\",\n  \"[\",\n]\n",
			want: `invalid glob "["`, key: "stream[0].match", line: 7, col: 1,
		},
		{
			name: "typo inside a field's calibration table",
			toml: oneSensor + "[sensor.fields.voltage]\nscale = 1.02\nscael = 1.02\n",
			want: `unknown key (did you mean "scale"?)`, key: "sensor[0].fields.voltage.scael", line: 7, col: 1,
		},
		{
			name: "field validity range upside down",
			toml: oneSensor + "[sensor.fields.voltage]\nmin = 60\nmax = 0\n",
			want: "min (60) is above max (0)", key: "sensor[0].fields.voltage.min", line: 6, col: 1,
		},
		{
			name: "unknown key in an inline table option",
			toml: "[[sensor]]\nname = \"g\"\ndriver = \"testi2c\"\nextra = { a = 1 }\n",
			want: `unknown key`, key: "sensor[0].extra", line: 4, col: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("config.toml", []byte(tc.toml))
			if err == nil {
				t.Fatalf("loaded without error: %+v", c)
			}
			list, ok := config.AsErrors(err)
			if !ok {
				t.Fatalf("error is %T, not config.Errors: %v", err, err)
			}
			n := tc.n
			if n == 0 {
				n = 1
			}
			if len(list) != n {
				t.Fatalf("got %d errors, want %d:\n%v", len(list), n, err)
			}
			e := list[0]
			if !strings.Contains(e.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", e.Error(), tc.want)
			}
			if e.File != "config.toml" {
				t.Errorf("file = %q", e.File)
			}
			if e.Key != tc.key {
				t.Errorf("key = %q, want %q (%v)", e.Key, tc.key, e)
			}
			if e.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", e.Line, tc.line, e)
			}
			if tc.col != 0 && e.Col != tc.col {
				t.Errorf("col = %d, want %d (%v)", e.Col, tc.col, e)
			}
		})
	}
}

// TestConfigErrorsAllAtOnce checks that one pass reports every mistake,
// sorted by line, each in the file:line:col: key: msg form.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	src := `[mqtt]
broker = "tcp://"

[buffer]
commit_interval = "forever"

[[sensor]]
name = "a"
driver = "testdrv"
interval = "10 s"
wavefrom = "ramp"

[[sensor]]
name = "a"
driver = "testdrv"
`
	_, err := ParseConfig("site.toml", []byte(src))
	want := []string{
		`site.toml:2:1: mqtt.broker: missing host in "tcp://"`,
		`site.toml:5:1: buffer.commit_interval: invalid duration "forever" (use e.g. "500ms", "10s", "5m")`,
		`site.toml:10:1: sensor[0].interval: invalid duration "10 s" (use e.g. "500ms", "10s", "5m")`,
		`site.toml:11:1: sensor[0].wavefrom: unknown key (did you mean "waveform"?)`,
		`site.toml:14:1: sensor[1].name: duplicate sensor name "a" (also sensor[0] at line 7)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("min.toml", []byte(oneSensor))
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.ID != "karana-3f9a1c0be2d4" {
		t.Errorf("device id = %q, want it derived from testdata/root/etc/machine-id", c.Device.ID)
	}
	if c.Device.DataDir != DefaultDataDir || c.Log.Level != "info" || c.File != "min.toml" {
		t.Errorf("device/log defaults: %+v %+v %q", c.Device, c.Log, c.File)
	}
	if c.Buffer != buffer.DefaultConfig() {
		t.Errorf("buffer = %+v, want defaults", c.Buffer)
	}
	wantMQTT := uplink.DefaultMQTTConfig()
	wantMQTT.ClientID = c.Device.ID
	if c.MQTT != wantMQTT {
		t.Errorf("mqtt = %+v, want %+v", c.MQTT, wantMQTT)
	}
	wantStream := uplink.DefaultStreamConfig()
	wantStream.Name = "raw"
	if !reflect.DeepEqual(c.Streams, []uplink.StreamConfig{wantStream}) {
		t.Errorf("streams = %+v, want the one default stream", c.Streams)
	}
	if len(c.Sensors) != 1 {
		t.Fatalf("sensors = %+v", c.Sensors)
	}
	s := c.Sensors[0]
	if s.Interval.Duration != 10*time.Second || s.Timeout.Duration != 5*time.Second || s.Disabled {
		t.Errorf("sensor common defaults: %+v", s)
	}
	if o, ok := s.Options.(*testdrvOptions); !ok || *o != (testdrvOptions{Waveform: "sine", Amplitude: 1}) {
		t.Errorf("options = %#v, want the driver's defaults", s.Options)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if got := c.Topic("data", "raw"); got != "karana/karana-3f9a1c0be2d4/data/raw" {
		t.Errorf("Topic = %q", got)
	}
	if got := c.Topic(); got != "karana/karana-3f9a1c0be2d4" {
		t.Errorf("Topic() = %q", got)
	}
}

func TestConfigPerTableDefaults(t *testing.T) {
	src := `
[[sensor]]
name = "a"
driver = "testdrv"
interval = "1s"
amplitude = 5

[[sensor]]
name = "b"
driver = "testdrv"
waveform = "ramp"

[[stream]]
name = "fast"
period = "5s"
match = ["a.*"]

[[stream]]
name = "slow"
`
	c, err := ParseConfig("t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Sensors[0], c.Sensors[1]
	if a.Timeout.Duration != time.Second || *a.Options.(*testdrvOptions) != (testdrvOptions{"sine", 5}) {
		t.Errorf("sensor a: %+v %+v", a, a.Options)
	}
	// b must not inherit a's options or interval.
	if b.Interval.Duration != 10*time.Second || *b.Options.(*testdrvOptions) != (testdrvOptions{"ramp", 1}) {
		t.Errorf("sensor b: %+v %+v", b, b.Options)
	}
	fast, slow := c.Streams[0], c.Streams[1]
	if fast.Period.Duration != 5*time.Second || !reflect.DeepEqual(fast.Match, []string{"a.*"}) || fast.Format != "json" {
		t.Errorf("fast: %+v", fast)
	}
	def := uplink.DefaultStreamConfig()
	def.Name = "slow"
	if !reflect.DeepEqual(slow, def) {
		t.Errorf("slow = %+v, want defaults", slow)
	}
}

func TestConfigWarnsUnmatchedGlob(t *testing.T) {
	src := oneSensor + `
[[stream]]
name = "s"
match = ["gen.*", "battery.*",
         "gen", "ge"]
`
	c, err := ParseConfig("w.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`w.toml:8:19: stream[0].match[1]: glob "battery.*" matches no series of the configured sensors (series are named <sensor>.<field>, e.g. "gen.*")`,
		`w.toml:9:17: stream[0].match[3]: glob "ge" matches no series of the configured sensors (series are named <sensor>.<field>, e.g. "gen.*")`,
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestGlobMatchesPrefix(t *testing.T) {
	cases := []struct {
		glob, prefix string
		want         bool
	}{
		{"*", "gen.", true},
		{"gen.*", "gen.", true},
		{"gen.value", "gen.", true},
		{"gen", "gen.", false},
		{"gen.", "gen.", false},
		{"gen*", "gen.", true},
		{"ge?.*", "gen.", true},
		{"g[a-f]n.*", "gen.", true},
		{"g[^e]n.*", "gen.", false},
		{"g[!e]n.*", "gen.", true}, // path.Match has no '!' negation: '!' is a literal in the class
		{"battery.*", "gen.", false},
		{"*.voltage", "battery.", true},
		{"bat*.v*", "battery.", true},
		{`gen\.*`, "gen.", true},
		{"pv?_power.*", "pv1_power.", true},
		{"pv?_power.*", "pv12_power.", false},
	}
	for _, tc := range cases {
		if got := globMatchesPrefix(tc.glob, tc.prefix); got != tc.want {
			t.Errorf("globMatchesPrefix(%q, %q) = %v, want %v", tc.glob, tc.prefix, got, tc.want)
		}
	}
}

func TestWriteTOMLRoundTrip(t *testing.T) {
	src := `
[device]
id = "site-042"
data_dir = "/srv/karana"

[log]
level = "debug"

[buffer]
max_bytes = 1048577
commit_interval = "250ms"

[mqtt]
broker = "tls://broker.example.com:8883"
username = "box \"42\" \\ ü"
password_file = "/etc/karana-edge/mqtt.pass"
topic_prefix = "sites/{device}/k"
inflight = 8

[[sensor]]
name = "gen"
driver = "testdrv"
waveform = "ramp"
amplitude = 2.5e-7

[[sensor]]
name = "chip"
driver = "testi2c"
address = 0x41
disabled = true
interval = "1m30s"

[[sensor]]
name = "pv"
driver = "sim"
waveform = "solar"
resolution = 0.1
period = "24h"

[[stream]]
name = "raw"
format = "testfmt"
match = ["gen.*", "chip.*"]
max_batch = 10
`
	c, err := ParseConfig("rt.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig("rt.toml", out.Bytes())
	if err != nil {
		t.Fatalf("effective config does not load back: %v\n%s", err, out.String())
	}
	// the same warnings, at other lines of the rewritten file
	if len(c.Warnings) != len(back.Warnings) {
		t.Errorf("warnings %q, then %q", c.Warnings, back.Warnings)
	}
	c.Warnings, back.Warnings = nil, nil
	if !reflect.DeepEqual(c, back) {
		t.Errorf("round trip differs:\n%+v\n%+v\n%s", c, back, out.String())
	}
	// Options follow the common keys inside the sensor's own table.
	text := out.String()
	gen := text[strings.Index(text, `name = "gen"`):]
	gen = gen[:strings.Index(gen, "[[sensor]]")]
	for _, want := range []string{`driver = "testdrv"`, `timeout = "5s"`, `waveform = "ramp"`, `amplitude = 2.5e-07`} {
		if !strings.Contains(gen, want) {
			t.Errorf("gen sensor table lacks %q:\n%s", want, gen)
		}
	}
	if !strings.Contains(text, `max_bytes = "1048577B"`) || !strings.Contains(text, `client_id = "site-042"`) {
		t.Errorf("effective config lacks filled values:\n%s", text)
	}
	// Written twice, it is the same text: the output is deterministic.
	var again bytes.Buffer
	if err := back.WriteTOML(&again); err != nil || again.String() != text {
		t.Errorf("second write differs (%v):\n%s", err, again.String())
	}
}

func TestConfigPath(t *testing.T) {
	t.Setenv(ConfigEnv, "")
	if got := ConfigPath(""); got != DefaultConfigPath {
		t.Errorf("default = %q", got)
	}
	t.Setenv(ConfigEnv, "/tmp/env.toml")
	if got := ConfigPath(""); got != "/tmp/env.toml" {
		t.Errorf("env = %q", got)
	}
	if got := ConfigPath("flag.toml"); got != "flag.toml" {
		t.Errorf("flag = %q", got)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(oneSensor+"interval = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":5:1: sensor[0].interval: ") {
		t.Errorf("error = %v, want it to name %s:5:1", err, path)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if err := os.WriteFile(path, []byte(oneSensor), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil || c.File != path {
		t.Errorf("LoadConfig = %+v, %v", c, err)
	}
}

func TestDefaultDeviceID(t *testing.T) {
	write := func(root, rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	if _, err := DefaultDeviceID(root); err == nil {
		t.Error("empty root: want an error")
	}
	write(root, "etc/machine-id", "0123456789ABCDEF0123456789abcdef\n")
	if id, err := DefaultDeviceID(root); id != "karana-0123456789ab" || err != nil {
		t.Errorf("machine-id: %q, %v", id, err)
	}
	// A Pi serial wins over the machine-id (cloned SD images share one)
	// and keeps its last 12 digits: the first are zero padding.
	write(root, "proc/device-tree/serial-number", "00000000c0ffee42\x00")
	if id, err := DefaultDeviceID(root); id != "karana-0000c0ffee42" || err != nil {
		t.Errorf("serial: %q, %v", id, err)
	}
	write(root, "proc/device-tree/serial-number", "0000000000000000\x00")
	if id, _ := DefaultDeviceID(root); id != "karana-0123456789ab" {
		t.Errorf("all-zero serial must be skipped: %q", id)
	}

	// With nothing to derive from, the loader says so at device.id.
	old := systemRoot
	systemRoot = t.TempDir()
	defer func() { systemRoot = old }()
	_, err := ParseConfig("c.toml", []byte(oneSensor))
	if err == nil || !strings.Contains(err.Error(), "c.toml: device.id: not set and cannot be derived") {
		t.Errorf("error = %v", err)
	}
	if _, err := ParseConfig("c.toml", []byte("[device]\nid = \"x\"\n"+oneSensor)); err != nil {
		t.Errorf("explicit id: %v", err)
	}
}

func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "examples", "config.toml")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("example warns:\n%s", strings.Join(c.Warnings, "\n"))
	}
	if len(c.Sensors) == 0 || len(c.Streams) == 0 || c.Streams[0].Format != "json" {
		t.Errorf("example: %d sensors, streams %+v", len(c.Sensors), c.Streams)
	}
	for _, s := range c.Sensors {
		if s.Driver != "sim" {
			t.Errorf("example sensor %q uses driver %q, want sim", s.Name, s.Driver)
		}
	}
	// Every key of every section is documented, active or commented out.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := sensors.Lookup("sim")
	sections := map[string][]string{
		"device":    config.AllowedKeys(&DeviceConfig{}),
		"log":       config.AllowedKeys(&LogConfig{}),
		"buffer":    config.AllowedKeys(&buffer.Config{}),
		"mqtt":      config.AllowedKeys(&uplink.MQTTConfig{}),
		"sensor":    config.AllowedKeys(&sensors.Config{}, sim.Options()),
		"stream":    config.AllowedKeys(&uplink.StreamConfig{}),
		"remote":    config.AllowedKeys(&RemoteConfig{}),
		"telemetry": config.AllowedKeys(&TelemetryConfig{}),
	}
	text := string(data)
	for section, keys := range sections {
		if !strings.Contains(text, "["+section+"]") {
			t.Errorf("example lacks [%s]", section)
		}
		for _, k := range keys {
			if !strings.Contains(text, "\n"+k+" =") && !strings.Contains(text, "\n# "+k+" =") {
				t.Errorf("example does not document %s.%s", section, k)
			}
		}
	}
}

// BenchmarkParseConfig loads a file shaped like shared/reference-site.toml
// (40 sensors, one stream): what `check` and every start pay.
func BenchmarkParseConfig(b *testing.B) {
	var src strings.Builder
	src.WriteString("[device]\nid = \"ref-site\"\n[mqtt]\nbroker = \"tcp://127.0.0.1:1883\"\n")
	src.WriteString("[[stream]]\nname = \"raw\"\nperiod = \"15m\"\nformat = \"json\"\n")
	for i := range 40 {
		fmt.Fprintf(&src, "\n[[sensor]]\nname = \"s%02d\"\ndriver = \"testdrv\"\nwaveform = \"ramp\"\namplitude = %d.5\ninterval = \"10s\"\n", i, i)
	}
	data := []byte(src.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c, err := ParseConfig("ref.toml", data)
		if err != nil || len(c.Sensors) != 40 {
			b.Fatal(err)
		}
	}
}

func TestStreamsFor(t *testing.T) {
	src := `
[device]
id = "site-042"
[[sensor]]
name = "battery"
driver = "testdrv"
[[sensor]]
name = "pv"
driver = "testdrv"
disabled = true
[[stream]]
name = "raw"
match = ["*"]
[[stream]]
name = "power"
period = "5m"
format = "testfmt"
match = ["pv.*", "battery.power"]
aggregate = "15m"
functions = ["mean", "max"]
`
	c, err := ParseConfig("s.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	check := func(series string, want ...string) {
		t.Helper()
		if got := c.StreamsFor(series); !reflect.DeepEqual(got, want) {
			t.Errorf("StreamsFor(%q):\n%s\nwant:\n%s", series, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("pv.power",
		`stream raw: taken by glob "*"; raw readings, json batches every 1m0s to karana/site-042/data/raw`,
		`stream power: taken by glob "pv.*"; 15m aggregates (mean,max as pv.power_<function>), testfmt batches every 5m0s to karana/site-042/data/power`,
		`sensor pv is disabled: it makes no readings`)
	check("battery.voltage",
		`stream raw: taken by glob "*"; raw readings, json batches every 1m0s to karana/site-042/data/raw`,
		`stream power: not taken (match ["pv.*", "battery.power"])`)
	check("pump.flow",
		`stream raw: taken by glob "*"; raw readings, json batches every 1m0s to karana/site-042/data/raw`,
		`stream power: not taken (match ["pv.*", "battery.power"])`,
		`no configured sensor makes it (series are <sensor>.<field>)`)
	check(".bad", `".bad" is not a valid series name: use ASCII letters, digits, '-', '_' and '.'`)
	c.Streams = c.Streams[1:]
	check("battery.voltage",
		`stream power: not taken (match ["pv.*", "battery.power"])`,
		`no stream takes it: it is buffered but never sent`)
}
