package web

import (
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/karana-energy/karana-edge/sensors"
)

// Health is one karana.* telemetry value (agent/telemetry.go): field
// "buffer.depth", "sensor.<name>.errors", …
type Health = sensors.Value

// writeMetrics writes /metrics: the daemon's health as karana_<field>
// gauges (karana_sensor_errors{sensor=…} per sensor), the Go runtime and
// process figures, and with readings every series' newest value as
// karana_reading{device,sensor,field}. A Set is built per scrape: the
// series come and go with the config, and a scrape a minute costs less
// than keeping them registered.
func writeMetrics(w io.Writer, device string, health []Health, readings []Point, sensorNames []string) {
	s := metrics.NewSet()
	dev := `device="` + labelValue(device) + `"`
	seen := map[string]bool{}
	gauge := func(name string, v float64) {
		if seen[name] { // never: fields and series are unique; a panic in the Set would be worse
			return
		}
		seen[name] = true
		s.NewGauge(name, func() float64 { return v })
	}
	for _, h := range health {
		if sensor, ok := strings.CutPrefix(h.Field, "sensor."); ok {
			if name, ok := strings.CutSuffix(sensor, ".errors"); ok {
				gauge(`karana_sensor_errors{`+dev+`,sensor="`+labelValue(name)+`"}`, h.Value)
				continue
			}
		}
		gauge("karana_"+metricName(h.Field)+"{"+dev+"}", h.Value)
	}
	for _, p := range readings {
		sensor, field := splitSeries(p.Name, sensorNames)
		if sensor == "" {
			continue // a series of a sensor no longer configured, or telemetry
		}
		gauge(`karana_reading{`+dev+`,sensor="`+labelValue(sensor)+`",field="`+labelValue(field)+`"}`, p.Value)
	}
	s.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}

// splitSeries splits a series name into its sensor (the longest configured
// sensor name it starts with, then a dot: sensor names may hold dots) and
// field; "" when no sensor is configured for it.
func splitSeries(series string, sensorNames []string) (sensor, field string) {
	for _, n := range sensorNames {
		if len(n) > len(sensor) && strings.HasPrefix(series, n+".") {
			sensor = n
		}
	}
	if sensor == "" {
		return "", ""
	}
	return sensor, series[len(sensor)+1:]
}

// metricName turns a telemetry field into a Prometheus name: dots and
// dashes (allowed in series names, not in metric names) become '_'.
func metricName(field string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, field)
}

// labelValue escapes a label value as the text format wants: backslash,
// double quote and line feed.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
