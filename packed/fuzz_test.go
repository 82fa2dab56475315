package packed

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz/FuzzDecode")

// seedBatches are the shapes the seed corpus starts from: one of each
// coding (XOR and decimal values, both orders, runs, flags, tags, empty).
func seedBatches() map[string]*Batch {
	ns := names(5)
	smooth := slots(ns, 12, func(s, k int) float64 { return math.Round(100*(20+float64(s)+math.Sin(float64(k)/3))) / 100 })
	flagged := slots(ns[:2], 6, func(s, k int) float64 { return float64(k / 3) })
	for i := range flagged[:5] {
		flagged[i].Flags = reading.ClockUnsynced
	}
	return map[string]*Batch{
		"empty":    {Device: "d", Stream: "raw", FirstSeq: 5, LastSeq: 9, Dropped: 5},
		"one":      {Device: "site-042", Stream: "raw", FirstSeq: 7, LastSeq: 7, Readings: []reading.Reading{{Seq: 7, Name: "battery.voltage", Time: t0, Value: 12.625, Unit: "V"}}},
		"smooth":   {Device: "ref", Stream: "raw", FirstSeq: 1000, LastSeq: 1059, Readings: smooth},
		"shuffled": {Device: "ref", Stream: "raw", FirstSeq: 1000, LastSeq: 1059, Readings: shuffled(smooth, 5, 9)},
		"flags":    {Device: "ref", Stream: "raw", Readings: flagged, Tags: map[string]string{"site": "x"}},
		"xor": {Readings: []reading.Reading{{Seq: 1, Name: "x", Time: t0, Value: math.NaN()}, {Seq: 2, Name: "x", Time: t0.Add(time.Second), Value: math.Pi},
			{Seq: 4, Name: "y", Value: math.Inf(-1)}, {Seq: 3, Name: "x", Time: t0.Add(3 * time.Second), Value: 1.0 / 3}}},
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts encodes and
// decodes back to the same batch.
func FuzzDecode(f *testing.F) {
	for _, b := range seedBatches() {
		p, err := Encode(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := Decode(payload)
		if err != nil {
			if b != nil {
				t.Fatalf("error %v with a batch", err)
			}
			return
		}
		again, err := Encode(b)
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		b2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		sameBatch(t, b2, b)
	})
}

// TestWriteFuzzCorpus writes the seed batches as corpus files with -update,
// so that plain go test runs them as FuzzDecode cases, and checks they are
// there otherwise.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for name, b := range seedBatches() {
		p, err := Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "seed-"+name)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(file); err != nil {
			t.Errorf("seed corpus: %v (run go test ./packed -run TestWriteFuzzCorpus -update)", err)
		}
	}
}
