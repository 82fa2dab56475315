package format

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/packed"
	"github.com/karana-energy/karana-edge/reading"
)

// packedGoldenBatch has one of each thing the format codes differently:
// decimal values at several resolutions, a series that is no decimal (XOR
// floats), a series of one reading, a seq gap, drops, flags, tags, a
// timestamp off the slot grid and a zone other than UTC.
func packedGoldenBatch() *Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	b := &Batch{Device: "site-042", Stream: "raw", FirstSeq: 101, LastSeq: 118, Dropped: 2,
		Tags: map[string]string{"site": "Kisumu", "customer": "acme"}}
	seq := uint64(101)
	for k := range 4 {
		at := t0.Add(time.Duration(k) * 10 * time.Second)
		rs := []reading.Reading{
			{Name: "battery.voltage", Time: at, Value: []float64{52.125, 52.126, 52.124, 52.13}[k], Unit: "V"},
			{Name: "battery.current", Time: at, Value: []float64{-3.5, -3.25, 0.1, 12}[k], Unit: "A"},
			{Name: "ambient.temperature", Time: at.In(time.FixedZone("CAT", 2*3600)), Value: []float64{31.4, 31.41, 31.39, 31.4}[k], Unit: "°C"},
			{Name: "sim1.value", Time: at.Add(time.Duration(k) * time.Millisecond), Value: math.Pi * float64(k), Unit: ""},
		}
		if k == 2 {
			rs[0], rs[2] = rs[2], rs[0] // the sampler's goroutines land in any order
		}
		for _, r := range rs {
			r.Seq = seq
			if k == 0 {
				r.Flags = reading.ClockUnsynced
			}
			b.Readings = append(b.Readings, r)
			seq++
		}
		if k == 1 {
			seq += 2 // the two dropped
		}
	}
	b.Readings = append(b.Readings, reading.Reading{Seq: seq, Name: "pv.energy", Time: t0, Value: 1e21, Unit: "Wh"})
	b.LastSeq = seq
	return b
}

// jsonLines is what `karana-edge decode` prints for rs.
func jsonLines(rs []reading.Reading) []byte {
	var out []byte
	for i := range rs {
		out = AppendJSONReading(out, &rs[i])
		out = append(out, '\n')
	}
	return out
}

func TestPackedGolden(t *testing.T) {
	got, err := Packed{}.Format(packedGoldenBatch())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "packed", "batch.golden")
	goldenJSON := filepath.Join("testdata", "packed", "batch.jsonl")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(golden, got, 0o644)
		os.WriteFile(goldenJSON, jsonLines(packedGoldenBatch().Readings), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestPackedGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("packed batch differs from %s: the encoder changed; if on purpose and readers still decode it, -update\n got % x\nwant % x", golden, got, want)
	}
	// the golden payload decodes to the golden JSON lines: what a backend
	// that stored payloads of this version must keep getting
	b, err := packed.Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := os.ReadFile(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	if gotJSON := jsonLines(b.Readings); !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("decoded golden payload differs from %s\n got:\n%s\nwant:\n%s", goldenJSON, gotJSON, wantJSON)
	}
	if b.Device != "site-042" || b.Stream != "raw" || b.FirstSeq != 101 || b.LastSeq != 119 || b.Dropped != 2 ||
		b.Tags["site"] != "Kisumu" || b.Tags["customer"] != "acme" {
		t.Errorf("decoded header %q %q %d..%d dropped %d tags %v", b.Device, b.Stream, b.FirstSeq, b.LastSeq, b.Dropped, b.Tags)
	}
}

// samePackedRoundTrip formats b as packed, decodes it and compares every
// reading exactly.
func samePackedRoundTrip(t *testing.T, b *Batch, compress string) int {
	t.Helper()
	p, err := Packed{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := AppendCompressed(compress, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decompress(wire)
	if err != nil {
		t.Fatal(err)
	}
	d, err := packed.Decode(plain)
	if err != nil {
		t.Fatalf("batch %d..%d: %v", b.FirstSeq, b.LastSeq, err)
	}
	if d.Device != b.Device || d.Stream != b.Stream || d.FirstSeq != b.FirstSeq || d.LastSeq != b.LastSeq ||
		d.Dropped != b.Dropped || len(d.Readings) != len(b.Readings) || len(d.Tags) != len(b.Tags) {
		t.Fatalf("header: got %+v", d)
	}
	for i, w := range b.Readings {
		g := d.Readings[i]
		if g.Seq != w.Seq || g.Name != w.Name || g.Unit != w.Unit || g.Flags != w.Flags || !g.Time.Equal(w.Time) ||
			math.Float64bits(g.Value) != math.Float64bits(w.Value) {
			t.Fatalf("batch %d..%d reading %d: got %+v, want %+v", b.FirstSeq, b.LastSeq, i, g, w)
		}
	}
	return len(wire)
}

// TestPackedReferenceDayRoundTrip: every 15 min batch of the reference
// site's day, in the sampler's order and in a stable one, comes back exact.
func TestPackedReferenceDayRoundTrip(t *testing.T) {
	for _, shuffle := range []bool{true, false} {
		for _, b := range refBatches(refDay(t, shuffle), 1<<30) {
			samePackedRoundTrip(t, b, CompressNone)
		}
	}
	for _, b := range refBatches(refDay(t, true), 1000)[:5] {
		for _, c := range Compressions() {
			samePackedRoundTrip(t, b, c)
		}
	}
}

func TestPackedGoldenRoundTripsCompressed(t *testing.T) {
	for _, c := range Compressions() {
		samePackedRoundTrip(t, packedGoldenBatch(), c)
	}
	samePackedRoundTrip(t, &Batch{Device: "d", Stream: "s", FirstSeq: 5, LastSeq: 9, Dropped: 5}, CompressZstd)
}

// TestAppendJSONReadingMatchesJSON: decode prints readings byte for byte as
// the json format writes them inside "readings".
func TestAppendJSONReadingMatchesJSON(t *testing.T) {
	for _, b := range []*Batch{packedGoldenBatch(), refBatches(refDay(t, true), 200)[150]} {
		doc, err := JSON{}.Format(b)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Readings []json.RawMessage `json:"readings"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(jsonLines(b.Readings), []byte("\n")), []byte("\n"))
		if len(lines) != len(d.Readings) {
			t.Fatalf("%d lines, %d readings", len(lines), len(d.Readings))
		}
		for i := range lines {
			if !bytes.Equal(lines[i], d.Readings[i]) {
				t.Fatalf("reading %d:\nAppendJSONReading %s\njson format       %s", i, lines[i], d.Readings[i])
			}
		}
	}
}

func TestPackedRegistered(t *testing.T) {
	f, ok := Lookup("packed")
	if !ok {
		t.Fatal(`"packed" is not registered`)
	}
	if f.ContentType() != "application/x-karana-packed; v=1" {
		t.Errorf("content type %q", f.ContentType())
	}
	if _, err := Configure("packed", nil, nil); err != nil {
		t.Errorf("packed takes no options but Configure failed: %v", err)
	}
	if _, err := configureTOML("packed", `template = "x"`, nil); err == nil {
		t.Error("packed accepted a template option it does not use")
	}
	// what the format cannot hold is an error naming the reading, not a panic
	_, err := f.Format(&Batch{Readings: []reading.Reading{{Seq: 9, Name: "x", Time: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("seq 9")) {
		t.Errorf("got %v, want an error naming seq 9", err)
	}
}

func TestPackedAppendFormatKeepsPrefix(t *testing.T) {
	b := packedGoldenBatch()
	plain, _ := Packed{}.Format(b)
	got, err := Packed{}.AppendFormat([]byte("prefix:"), b)
	if err != nil || string(got) != "prefix:"+string(plain) {
		t.Fatalf("AppendFormat lost or changed the prefix: %v", err)
	}
}
