package format

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/karana-energy/karana-edge/reading"
)

// Influx is the "influx" format: InfluxDB line protocol that InfluxDB 1.x
// and 2.x (/write, /api/v2/write) and Telegraf's mqtt_consumer with
// data_format = "influx" take as is:
//
//	battery,customer=acme,device=site-042,site=kisumu-3 current=-0.5,voltage=12.625 1795298400000000000
//
// Its parts:
//
//   - measurement: the sensor, i.e. the series name up to its last dot
//     ("battery.voltage" → "battery"); field: the rest ("voltage"). A name
//     without a dot is the measurement, with the field "value".
//   - tags: device (the device id) and the stream's tags, sorted by key as
//     InfluxDB prefers. A reading sampled before the clock was synchronized
//     (reading.ClockUnsynced) also carries the tag clock=unsynced, so a query
//     can leave out points whose time may be off by days
//     (WHERE clock != 'unsynced' in InfluxQL, or filter on r.clock in Flux);
//     synced points carry no clock tag at all. A reading re-stamped after
//     the clock synced (reading.ClockCorrected) carries clock=corrected, and
//     one dated before the build or in the future (reading.TimeImplausible)
//     clock=implausible, which wins over the other two.
//   - fields: all readings of one sensor with the same timestamp and clock
//     state go on one line, in the order they came, as float fields
//     (written like the json format writes values: a bare number is a float
//     in line protocol, integers would need an "i" suffix). Should a series
//     repeat within such a group (a resend of the same slot), it starts a
//     new line; InfluxDB keeps the last write of a field at a timestamp.
//     NaN and ±Inf have no line protocol form: such a field is left out,
//     and a line left without fields is not written.
//   - timestamp: nanoseconds since the Unix epoch (the default precision of
//     every writer, so no precision parameter is needed).
//   - seq, unit, first_seq/last_seq and dropped are not carried: line
//     protocol has no place for them that would not create a series per
//     reading. Use json where the backend needs them.
//
// Escaping follows line protocol: commas and spaces in measurements;
// commas, equals signs and spaces in tag keys, tag values and field keys.
// Line protocol cannot hold control characters at all, nor a backslash at
// the end of a key or value (it would escape the separator after it): such a
// batch is an error. Series names, device ids and validated stream tags
// never contain them.
type Influx struct{}

func init() { Register("influx", Influx{}) }

// ContentType implements Formatter.
func (Influx) ContentType() string { return "text/plain; charset=utf-8" }

// Format implements Formatter.
func (f Influx) Format(b *Batch) ([]byte, error) { return f.AppendFormat(nil, b) }

// influxLine is one line being assembled: the readings (indexes into the
// batch) of one sensor at one timestamp and clock state.
type influxLine struct {
	meas   string
	ts     int64
	clock  string // the clock tag's value, "" for none
	fields []int
}

type influxKey struct {
	meas  string
	ts    int64
	clock string
}

// influxClock is the clock tag's value for a reading's flags.
func influxClock(f reading.Flags) string {
	switch {
	case f&reading.TimeImplausible != 0:
		return "implausible"
	case f&reading.ClockUnsynced != 0:
		return "unsynced"
	case f&reading.ClockCorrected != 0:
		return "corrected"
	}
	return ""
}

// minInfluxTime and maxInfluxTime bound what fits int64 nanoseconds.
var (
	minInfluxTime = time.Unix(0, math.MinInt64)
	maxInfluxTime = time.Unix(0, math.MaxInt64)
)

// AppendFormat appends the lines for b to dst.
func (Influx) AppendFormat(dst []byte, b *Batch) ([]byte, error) {
	tagSets := make(map[string][]byte, 2)
	tags, err := influxTags(b, "")
	if err != nil {
		return dst, err
	}
	tagSets[""] = tags
	lines := make([]influxLine, 0, len(b.Readings)/2+1)
	open := make(map[influxKey]int, 64)
	for i := range b.Readings {
		r := &b.Readings[i]
		if r.Time.Before(minInfluxTime) || r.Time.After(maxInfluxTime) {
			return dst, fmt.Errorf("influx: reading seq %d (%s): time %s does not fit nanoseconds since 1970 in 64 bits",
				r.Seq, r.Name, r.Time.UTC().Format(time.RFC3339))
		}
		meas, field := splitSeries(r.Name)
		k := influxKey{meas: meas, ts: r.Time.UnixNano(), clock: influxClock(r.Flags)}
		li, ok := open[k]
		if ok {
			for _, j := range lines[li].fields {
				if _, f := splitSeries(b.Readings[j].Name); f == field {
					ok = false // the series repeats: start a new line
					break
				}
			}
		}
		if !ok {
			lines = append(lines, influxLine{meas: meas, ts: k.ts, clock: k.clock})
			li = len(lines) - 1
			open[k] = li
		}
		lines[li].fields = append(lines[li].fields, i)
	}

	if n := 48 + 40*len(b.Readings); cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	for li := range lines {
		l := &lines[li]
		start := len(dst)
		if dst, err = appendInfluxKey(dst, l.meas, measurementEscapes, "measurement"); err != nil {
			return dst[:start], fmt.Errorf("influx: series %q: %w", b.Readings[l.fields[0]].Name, err)
		}
		ts, ok := tagSets[l.clock]
		if !ok {
			ts, _ = influxTags(b, l.clock) // the same tags did not fail above
			tagSets[l.clock] = ts
		}
		dst = append(dst, ts...)
		sep := byte(' ')
		for _, j := range l.fields {
			r := &b.Readings[j]
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				continue
			}
			_, field := splitSeries(r.Name)
			dst = append(dst, sep)
			sep = ','
			if dst, err = appendInfluxKey(dst, field, keyEscapes, "field key"); err != nil {
				return dst[:start], fmt.Errorf("influx: series %q: %w", r.Name, err)
			}
			dst = append(dst, '=')
			dst = appendJSONFloat(dst, r.Value)
		}
		if sep == ' ' { // every field was NaN or ±Inf
			dst = dst[:start]
			continue
		}
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, l.ts, 10)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// splitSeries splits a series name at its last dot into the sensor
// (measurement) and the field; a name without a dot is all measurement,
// with the field "value".
func splitSeries(name string) (meas, field string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, "value"
}

// influxTags writes the batch's tag set (",k=v" sorted by key), with
// clock=<clock> unless clock is "".
func influxTags(b *Batch, clock string) (tags []byte, err error) {
	keys := make([]string, 0, len(b.Tags)+2)
	for k := range b.Tags {
		if k == "device" || k == "clock" {
			return nil, fmt.Errorf("influx: stream tag %q clashes with the tag the format sets", k)
		}
		keys = append(keys, k)
	}
	keys = append(keys, "device", "clock")
	sort.Strings(keys)
	for _, k := range keys {
		v := b.Tags[k]
		switch k {
		case "device":
			v = b.Device
		case "clock":
			if clock == "" {
				continue
			}
			v = clock
		}
		var kv []byte
		kv = append(kv, ',')
		if kv, err = appendInfluxKey(kv, k, keyEscapes, "tag key"); err != nil {
			return nil, fmt.Errorf("influx: tag %q: %w", k, err)
		}
		kv = append(kv, '=')
		if kv, err = appendInfluxKey(kv, v, keyEscapes, "tag value"); err != nil {
			return nil, fmt.Errorf("influx: tag %q: %w", k, err)
		}
		tags = append(tags, kv...)
	}
	return tags, nil
}

// Characters escaped with a backslash in line protocol.
const (
	measurementEscapes = ", "
	keyEscapes         = ",= " // tag keys, tag values, field keys
)

// appendInfluxKey appends s escaped for line protocol. It rejects what line
// protocol cannot carry: an empty string, control characters, invalid
// UTF-8, a trailing backslash, and a measurement starting with '#' (a
// comment line).
func appendInfluxKey(dst []byte, s, escapes, what string) ([]byte, error) {
	if s == "" {
		return dst, fmt.Errorf("empty %s", what)
	}
	if what == "measurement" && s[0] == '#' {
		return dst, fmt.Errorf("%s %q starts with '#' (a comment line)", what, s)
	}
	if s[len(s)-1] == '\\' {
		return dst, fmt.Errorf("%s %q ends with a backslash, which line protocol cannot carry", what, s)
	}
	if !utf8.ValidString(s) {
		return dst, fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return dst, fmt.Errorf("%s %q has a control character, which line protocol cannot carry", what, s)
		}
		if strings.IndexByte(escapes, c) >= 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst, nil
}
