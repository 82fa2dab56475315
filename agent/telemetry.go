package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/karana"
	"github.com/karana-energy/karana-edge/uplink"
)

// Self-telemetry: the agent samples its own health as ordinary readings
// named karana.<field> (sensors/karana), every [telemetry] interval, and
// sends them on a stream of their own, "telemetry" (match ["karana.*"], in
// the format and compression of the file's first stream), that the agent adds unless the file already has a stream named
// "telemetry" or one whose match names karana explicitly (a glob starting
// with "karana"): then the file decides where they go. A stream matching
// "*" carries them too, as it carries every series.
//
// Fields (series karana.<field>):
//
//	buffer.depth, buffer.file_bytes, buffer.pending       readings, B, readings
//	buffer.dropped_total, buffer.commit_errors            counts
//	buffer.commit_seconds, buffer.commit_max_seconds      last and max commit time
//	buffer.failing                                        1 while commits fail
//	uplink.connected                                      0/1
//	uplink.bytes_sent                                     payload bytes since start
//	uplink.wire_bytes                                     bytes at the socket since start, both directions, TLS included
//	sensor.<name>.errors                                  failed reads since start
//	clock.synced                                          0/1
//	process.rss_bytes, cpu.temp                           (sensors/karana)
//
// With ModemManager and a modem (link.go; none of these without one):
//
//	modem.signal_quality                                  % (ModemManager's 0-100)
//	modem.access_tech                                     MMModemAccessTechnology bits
//	modem.generation                                      2, 3, 4, 5 (0: none)
//	modem.state                                           MMModemState (11 connected)
//	modem.registration                                    MMModem3gppRegistrationState (1 home, 5 roaming)
//	modem.operator_code                                   MCC+MNC as a number (64005)
//	modem.rx_bytes, modem.tx_bytes                        B, the bearer's current connection

// TelemetryConfig is the [telemetry] section.
type TelemetryConfig struct {
	// Interval between self-telemetry samples; 0 disables telemetry.
	Interval config.Duration `toml:"interval"`
	// Period is the telemetry stream's batch period, when the agent adds it.
	Period config.Duration `toml:"period"`
}

// DefaultTelemetryConfig: a sample a minute, sent every 5 minutes.
func DefaultTelemetryConfig() TelemetryConfig {
	return TelemetryConfig{Interval: config.D(time.Minute), Period: config.D(5 * time.Minute)}
}

// Validate checks the section; keys are relative to [telemetry].
func (c *TelemetryConfig) Validate() error {
	var errs config.FieldErrors
	if iv := c.Interval.Duration; iv < 0 || iv > 0 && iv < time.Second {
		errs.Add("interval", "must be 0 (off) or at least 1s, got %s", iv)
	}
	if c.Period.Duration < 0 {
		errs.Add("period", "must not be negative, got %s", c.Period.Duration)
	}
	return errs.Err()
}

const telemetryStream = "telemetry"

// allStreams is the file's streams plus the telemetry stream when the
// agent adds it.
func allStreams(cfg *Config) []uplink.StreamConfig {
	if cfg.Telemetry.Interval.Duration <= 0 {
		return cfg.Streams
	}
	for _, s := range cfg.Streams {
		if s.Name == telemetryStream {
			return cfg.Streams
		}
		for _, g := range s.Match {
			if strings.HasPrefix(g, karana.Name) {
				return cfg.Streams
			}
		}
	}
	sc := uplink.DefaultStreamConfig()
	sc.Name = telemetryStream
	sc.Match = []string{karana.Name + ".*"}
	sc.Period = cfg.Telemetry.Period
	if len(cfg.Streams) > 0 {
		// What the backend reads for this box's data it reads here too; and
		// a box set up for a metered link (packed, zstd) must not send its
		// health as json at ten times the bytes of its data.
		first := cfg.Streams[0]
		sc.Format, sc.Compress, sc.Options = first.Format, first.Compress, first.Options
	}
	return append(cfg.Streams[:len(cfg.Streams):len(cfg.Streams)], sc)
}

// withTelemetry appends the telemetry sensor to list when it is enabled.
func (a *Agent) withTelemetry(cfg *Config, list []sensors.Configured) []sensors.Configured {
	iv := cfg.Telemetry.Interval.Duration
	if iv <= 0 {
		return list
	}
	sc := sensors.DefaultConfig()
	sc.Name, sc.Driver, sc.Interval = karana.Name, karana.Name, config.D(iv)
	sc.FillDefaults()
	return append(list, sensors.Configured{Config: sc, Sensor: karana.New(a.telemetry)})
}

// telemetry is the agent's view for the telemetry sensor.
func (a *Agent) telemetry() []sensors.Value {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	var vs []sensors.Value
	add := func(field string, v float64, unit string) {
		vs = append(vs, sensors.Value{Field: field, Value: v, Unit: unit})
	}
	if st, err := a.ring.Stats(); err == nil {
		add("buffer.depth", float64(st.Readings), "")
		add("buffer.file_bytes", float64(st.FileBytes), "B")
		add("buffer.pending", float64(st.Pending), "")
		add("buffer.dropped_total", float64(st.DroppedTotal), "")
		add("buffer.commit_errors", float64(st.CommitErrors), "")
		add("buffer.commit_seconds", st.LastCommit.Seconds(), "s")
		add("buffer.commit_max_seconds", st.MaxCommit.Seconds(), "s")
		add("buffer.failing", b(!st.FailingSince.IsZero()), "")
	}
	_, s, up := a.parts()
	if up != nil {
		us := up.Stats()
		add("uplink.connected", b(us.Connected), "")
		var sent uint64
		for _, ss := range us.Streams {
			sent += ss.Bytes
		}
		add("uplink.bytes_sent", float64(sent), "B")
		add("uplink.wire_bytes", float64(us.Wire.In+us.Wire.Out), "B")
	}
	if s != nil {
		for _, ss := range s.Stats() {
			if ss.Name == karana.Name {
				continue
			}
			add(fmt.Sprintf("sensor.%s.errors", ss.Name), float64(ss.Errors), "")
		}
	}
	add("clock.synced", b(clockSynced()), "")
	a.modemTelemetry(add)
	return vs
}
