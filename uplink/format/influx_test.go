package format

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/karana-energy/karana-edge/reading"
)

// influxPoint is one field of one parsed line.
type influxPoint struct {
	meas, field string
	tags        string // "k=v,k=v" in line order
	value       float64
	ts          int64
}

// parseInflux parses payload with InfluxDB's own line-protocol decoder
// (the one Telegraf's influx parser uses) and returns every field as a
// point, and the number of lines.
func parseInflux(t *testing.T, payload []byte) ([]influxPoint, int) {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(payload)
	var pts []influxPoint
	lines := 0
	for dec.Next() {
		lines++
		m, err := dec.Measurement()
		if err != nil {
			t.Fatalf("line %d: measurement: %v\n%s", lines, err, payload)
		}
		meas := string(m)
		var tags []string
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("line %d: tag: %v\n%s", lines, err, payload)
			}
			if k == nil {
				break
			}
			tags = append(tags, string(k)+"="+string(v))
		}
		var fields []influxPoint
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("line %d: field: %v\n%s", lines, err, payload)
			}
			if k == nil {
				break
			}
			if v.Kind() != lineprotocol.Float {
				t.Errorf("line %d: field %s is %v, want a float", lines, k, v.Kind())
			}
			fields = append(fields, influxPoint{meas: meas, field: string(k), tags: strings.Join(tags, ","), value: v.FloatV()})
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatalf("line %d: time: %v\n%s", lines, err, payload)
		}
		if ts.IsZero() {
			t.Errorf("line %d has no timestamp", lines)
		}
		for _, f := range fields {
			f.ts = ts.UnixNano()
			pts = append(pts, f)
		}
	}
	return pts, lines
}

// wantInflux derives the points a batch should give, independently of the
// encoder: one per finite reading.
func wantInflux(b *Batch) []influxPoint {
	var pts []influxPoint
	for _, r := range b.Readings {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		meas, field := r.Name, "value"
		if i := strings.LastIndex(r.Name, "."); i >= 0 {
			meas, field = r.Name[:i], r.Name[i+1:]
		}
		tags := maps.Clone(b.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		tags["device"] = b.Device
		if r.Flags&reading.ClockUnsynced != 0 {
			tags["clock"] = "unsynced"
		}
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			kv = append(kv, k+"="+tags[k])
		}
		pts = append(pts, influxPoint{meas: meas, field: field, tags: strings.Join(kv, ","), value: r.Value, ts: r.Time.UnixNano()})
	}
	return pts
}

func pointKey(p influxPoint) string {
	return fmt.Sprintf("%q %q %q %d %v", p.meas, p.tags, p.field, p.ts, math.Float64bits(p.value))
}

// samePoints compares as multisets: line grouping may reorder fields.
func samePoints(t *testing.T, got, want []influxPoint) {
	t.Helper()
	count := map[string]int{}
	for _, p := range want {
		count[pointKey(p)]++
	}
	for _, p := range got {
		k := pointKey(p)
		if count[k] == 0 {
			t.Errorf("unexpected point %s", k)
			continue
		}
		count[k]--
	}
	for k, n := range count {
		if n > 0 {
			t.Errorf("missing point %s", k)
		}
	}
}

func TestInfluxGoldenParses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch *Batch
	}{{"batch.golden", goldenBatch()}, {"tagged.golden", taggedBatch()}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Influx{}.Format(tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "influx", tc.name, got)
			pts, lines := parseInflux(t, got)
			samePoints(t, pts, wantInflux(tc.batch))
			// sim1, battery (voltage at 1.6s, current at 2.099s: two
			// times), ambient (unsynced), pv: one line per sensor and time
			if lines != 5 {
				t.Errorf("%d lines, want 5:\n%s", lines, got)
			}
		})
	}
}

func TestInfluxGroupsFieldsPerSensorAndTime(t *testing.T) {
	t0 := time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	b := &Batch{Device: "site-042", Stream: "raw", Tags: map[string]string{"site": "kisumu-3"}}
	add := func(name string, at time.Time, v float64, flags reading.Flags) {
		b.Readings = append(b.Readings, reading.Reading{Seq: uint64(len(b.Readings) + 1), Name: name, Time: at, Value: v, Flags: flags})
	}
	add("battery.voltage", t0, 52.1, 0)
	add("battery.current", t0, -3.25, 0)
	add("pv.power", t0, 1200, 0)
	add("battery.temp", t0, 25.5, 0)    // same sensor and time, after another sensor: same line
	add("battery.voltage", t0, 52.2, 0) // repeats in the group: a new line
	add("battery.voltage", t0.Add(10*time.Second), 52.3, 0)
	add("battery.voltage", t0, 52.4, reading.ClockUnsynced) // other clock state: its own line
	add("bare", t0, 7, 0)                                   // no dot: field "value"
	add("pv.nan", t0, math.NaN(), 0)                        // left out
	add("only.inf", t0, math.Inf(1), 0)                     // its line has no field left: not written
	add("a.b.c", t0, 1, 0)                                  // measurement "a.b", field "c"

	got, err := Influx{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"battery,device=site-042,site=kisumu-3 voltage=52.1,current=-3.25,temp=25.5 1782043200000000000",
		"pv,device=site-042,site=kisumu-3 power=1200 1782043200000000000",
		"battery,device=site-042,site=kisumu-3 voltage=52.2 1782043200000000000",
		"battery,device=site-042,site=kisumu-3 voltage=52.3 1782043210000000000",
		"battery,clock=unsynced,device=site-042,site=kisumu-3 voltage=52.4 1782043200000000000",
		"bare,device=site-042,site=kisumu-3 value=7 1782043200000000000",
		"a.b,device=site-042,site=kisumu-3 c=1 1782043200000000000",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	pts, _ := parseInflux(t, got)
	samePoints(t, pts, wantInflux(b))
}

func TestInfluxEscaping(t *testing.T) {
	t0 := time.Date(2026, 6, 21, 12, 0, 0, 123456789, time.UTC)
	// beyond what config validation lets through, to prove the escaping:
	// every character line protocol escapes, in every position
	b := &Batch{Device: "dev ice,1=x", Stream: "raw", Tags: map[string]string{
		"my tag,k=1": `va lue,with=all\and \, backslash`,
		"µ":          "°C ünïcode",
	}, Readings: []reading.Reading{
		{Seq: 1, Name: "sen sor,1.fi eld,=x", Time: t0, Value: 1.5},
		{Seq: 2, Name: `back\slash.f\ield`, Time: t0, Value: -2},
		{Seq: 3, Name: "=eq.=", Time: t0.Add(-100 * 365 * 24 * time.Hour), Value: 3}, // before 1970
	}}
	got, err := Influx{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	pts, lines := parseInflux(t, got)
	if lines != 3 {
		t.Errorf("%d lines, want 3:\n%s", lines, got)
	}
	samePoints(t, pts, wantInflux(b))
}

func TestInfluxRejectsWhatLineProtocolCannotCarry(t *testing.T) {
	t0 := time.Unix(1782043200, 0)
	for name, b := range map[string]*Batch{
		"control char in name": {Device: "d", Readings: []reading.Reading{{Name: "a\nb.c", Time: t0}}},
		"trailing backslash":   {Device: "d", Readings: []reading.Reading{{Name: `a.b\`, Time: t0}}},
		"comment measurement":  {Device: "d", Readings: []reading.Reading{{Name: "#a.b", Time: t0}}},
		"empty field":          {Device: "d", Readings: []reading.Reading{{Name: "a.", Time: t0}}},
		"tag value backslash":  {Device: "d", Tags: map[string]string{"site": `x\`}},
		"tag value tab":        {Device: "d", Tags: map[string]string{"site": "x\ty"}},
		"empty device":         {Device: ""},
		"reserved tag":         {Device: "d", Tags: map[string]string{"device": "x"}},
		"time out of range":    {Device: "d", Readings: []reading.Reading{{Name: "a.b", Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	} {
		if out, err := (Influx{}).Format(b); err == nil {
			t.Errorf("%s: no error, wrote %q", name, out)
		} else if !strings.HasPrefix(err.Error(), "influx: ") {
			t.Errorf("%s: error %q does not name the format", name, err)
		}
	}
}

func TestInfluxEmptyBatch(t *testing.T) {
	got, err := Influx{}.Format(&Batch{Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 9, Dropped: 9})
	if err != nil || len(got) != 0 {
		t.Errorf("got %q, %v; want an empty payload", got, err)
	}
}
