package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// jsonBatch mirrors the stable fields of the contract for decoding with
// encoding/json, independently of the hand-written encoder.
type jsonBatch struct {
	Device   string        `json:"device"`
	Stream   string        `json:"stream"`
	FirstSeq uint64        `json:"first_seq"`
	LastSeq  uint64        `json:"last_seq"`
	Count    int           `json:"count"`
	Dropped  uint64        `json:"dropped"`
	Readings []jsonReading `json:"readings"`
}

type jsonReading struct {
	Seq   uint64   `json:"seq"`
	Name  string   `json:"name"`
	TS    string   `json:"ts"`
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	Flags *uint8   `json:"flags"`
}

func goldenBatch() *Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 100_000_000, time.UTC)
	return &Batch{
		Device: "site-042", Stream: "raw", FirstSeq: 101, LastSeq: 106, Dropped: 2,
		Readings: []reading.Reading{
			{Seq: 101, Name: "sim1.value", Time: t0, Value: 101},
			{Seq: 102, Name: "battery.voltage", Time: t0.Add(1500 * time.Millisecond), Value: 12.625, Unit: "V"},
			{Seq: 104, Name: "battery.current", Time: t0.Add(1999999 * time.Microsecond), Value: -0.0000005, Unit: "A"},
			{Seq: 105, Name: "ambient.temperature", Time: t0.In(time.FixedZone("CAT", 2*3600)), Value: 31.4, Unit: "°C", Flags: reading.ClockUnsynced},
			{Seq: 106, Name: "pv.energy", Time: t0, Value: 1e21, Unit: "Wh"},
		},
	}
}

func TestJSONGolden(t *testing.T) {
	got, err := JSON{}.Format(goldenBatch())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "json", "batch.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestJSONGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("json batch differs from %s\n got: %s\nwant: %s", golden, got, want)
	}
}

func TestJSONDecodesWithEncodingJSON(t *testing.T) {
	b := goldenBatch()
	payload, err := JSON{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	var d jsonBatch
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	if d.Device != b.Device || d.Stream != b.Stream || d.FirstSeq != b.FirstSeq || d.LastSeq != b.LastSeq ||
		d.Dropped != b.Dropped || d.Count != len(b.Readings) || len(d.Readings) != len(b.Readings) {
		t.Fatalf("header mismatch: %+v", d)
	}
	for i, r := range b.Readings {
		g := d.Readings[i]
		ts, err := time.Parse(time.RFC3339Nano, g.TS)
		if err != nil {
			t.Fatalf("reading %d: ts %q: %v", i, g.TS, err)
		}
		if !strings.HasSuffix(g.TS, "Z") || len(g.TS) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("reading %d: ts %q is not UTC with milliseconds", i, g.TS)
		}
		if want := r.Time.Truncate(time.Millisecond); !ts.Equal(want) {
			t.Errorf("reading %d: ts %s, want %s", i, ts, want)
		}
		if g.Seq != r.Seq || g.Name != r.Name || g.Unit != r.Unit || g.Value == nil || *g.Value != r.Value {
			t.Errorf("reading %d: got %+v, want %+v", i, g, r)
		}
		if (g.Flags != nil) != (r.Flags != 0) || (g.Flags != nil && reading.Flags(*g.Flags) != r.Flags) {
			t.Errorf("reading %d: flags %v, want %v (present only when non-zero)", i, g.Flags, r.Flags)
		}
	}
}

func TestJSONNonFiniteIsNull(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		b := &Batch{Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 1,
			Readings: []reading.Reading{{Seq: 1, Name: "x", Time: t0, Value: v}}}
		payload, _ := JSON{}.Format(b)
		var d jsonBatch
		if err := json.Unmarshal(payload, &d); err != nil {
			t.Fatalf("%v: invalid JSON %s: %v", v, payload, err)
		}
		if d.Readings[0].Value != nil {
			t.Errorf("%v encoded as %v, want null", v, *d.Readings[0].Value)
		}
	}
}

func TestJSONFloatsMatchEncodingJSON(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789012345678,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-300, 3.0000000000000004, 12.625}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		vals = append(vals, math.Float64frombits(rng.Uint64()))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONFloat(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("float %v: got %s, encoding/json writes %s", v, got, want)
		}
	}
}

func TestJSONStringsMatchEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "V", "°C", "m³/h", `a"b\c`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "bad\xffutf8\xc3",
		"line\u2028sep\u2029", "µS/cm", "<&>"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: invalid JSON string %s: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q: round trip gives %q, want %q", s, back, want)
		}
	}
}

func TestJSONTimes(t *testing.T) {
	for _, tc := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), // a box with no RTC before NTP
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.FixedZone("x", -7*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 21, 22, 0, 0, 100_000_000, time.FixedZone("CAT", 2*3600)),
		time.Date(2026, 11, 21, 22, 0, 0, 900_000_000, time.FixedZone("CAT", 2*3600)),
		time.Date(2026, 11, 21, 22, 0, 1, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 58, 500_000_000, time.UTC),
	} {
		want := tc.UTC().Format(TimeRFC3339Milli)
		if got := string(appendTimeMilli(nil, tc)); got != want {
			t.Errorf("%v: got %s, want %s", tc, got, want)
		}
	}
	// the per-batch cache of the date-and-second prefix, across second boundaries
	var c timeCache
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, 999 * time.Millisecond, time.Second, 1500 * time.Millisecond, -time.Millisecond, 86400 * time.Second, -1e6 * time.Hour} {
		tc := t0.Add(d)
		if got, want := string(c.append(nil, tc)), tc.Format(TimeRFC3339Milli); got != want {
			t.Errorf("cached %v: got %s, want %s", tc, got, want)
		}
	}
}

func TestJSONEmptyBatchAndRegistry(t *testing.T) {
	f, ok := Lookup("json")
	if !ok {
		t.Fatal(`"json" is not registered`)
	}
	if f.ContentType() != "application/json" {
		t.Errorf("content type %q", f.ContentType())
	}
	payload, err := f.Format(&Batch{Device: "d", Stream: "s", FirstSeq: 5, LastSeq: 9, Dropped: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"device":"d","stream":"s","first_seq":5,"last_seq":9,"count":0,"dropped":5,"readings":[]}`
	if string(payload) != want {
		t.Errorf("got %s, want %s", payload, want)
	}
}

func TestJSONAppendFormatKeepsPrefix(t *testing.T) {
	b := goldenBatch()
	plain, _ := JSON{}.Format(b)
	got, err := JSON{}.AppendFormat([]byte("prefix:"), b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "prefix:"+string(plain) {
		t.Errorf("AppendFormat lost or changed the prefix: %.40s", got)
	}
}

// benchBatch is shaped like a drain batch: 1000 readings of 50 series.
func benchBatch(n int) *Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	b := &Batch{Device: "site-042", Stream: "raw", FirstSeq: 1, LastSeq: uint64(n)}
	names := make([]string, 50)
	for i := range names {
		names[i] = "sensor" + strconv.Itoa(i/5) + ".field" + strconv.Itoa(i%5)
	}
	for i := range n {
		b.Readings = append(b.Readings, reading.Reading{
			Seq: uint64(i + 1), Name: names[i%50], Time: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Value: float64(i%977) * 0.173, Unit: "V",
		})
	}
	return b
}

func BenchmarkJSON(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readings=%d", n), func(b *testing.B) {
			batch := benchBatch(n)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				p, _ := JSON{}.Format(batch)
				size = len(p)
			}
			perReading := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(perReading, "ns/reading")
			b.ReportMetric(float64(size)/float64(n), "bytes/reading")
		})
	}
	b.Run("append/readings=1000", func(b *testing.B) {
		batch := benchBatch(1000)
		buf := make([]byte, 0, 256<<10)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = JSON{}.AppendFormat(buf[:0], batch)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/reading")
	})
	b.Run("encoding-json/readings=1000", func(b *testing.B) { // the reflective baseline
		batch := benchBatch(1000)
		type rd struct {
			Seq   uint64  `json:"seq"`
			Name  string  `json:"name"`
			TS    string  `json:"ts"`
			Value float64 `json:"value"`
			Unit  string  `json:"unit"`
		}
		b.ReportAllocs()
		for b.Loop() {
			rs := make([]rd, len(batch.Readings))
			for i, r := range batch.Readings {
				rs[i] = rd{r.Seq, r.Name, r.Time.UTC().Format(TimeRFC3339Milli), r.Value, r.Unit}
			}
			_, _ = json.Marshal(map[string]any{"device": batch.Device, "readings": rs})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/reading")
	})
}
