package format

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// clockFlagsBatch has every clock flag combination the agent produces, in
// runs, as packed stores them.
func clockFlagsBatch() *Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	all := []reading.Flags{0, reading.ClockUnsynced, reading.ClockCorrected, reading.TimeImplausible,
		reading.ClockUnsynced | reading.TimeImplausible, reading.ClockCorrected | reading.TimeImplausible, 0}
	b := &Batch{Device: "site-042", Stream: "raw", FirstSeq: 1}
	for i, f := range all {
		for k := range 2 {
			b.Readings = append(b.Readings, reading.Reading{Seq: uint64(len(b.Readings) + 1), Name: "pv.power",
				Time: t0.Add(time.Duration(i*2+k) * time.Second), Value: float64(i), Unit: "W", Flags: f})
		}
	}
	b.LastSeq = uint64(len(b.Readings))
	return b
}

func TestClockFlagsCarried(t *testing.T) {
	b := clockFlagsBatch()

	samePackedRoundTrip(t, b, CompressNone)

	for _, name := range []string{"json", "senml"} {
		f, ok := Lookup(name)
		if !ok {
			t.Fatalf("no %s formatter", name)
		}
		p, err := f.Format(b)
		if err != nil {
			t.Fatal(err)
		}
		var flags []reading.Flags
		if name == "json" {
			var doc struct {
				Readings []struct {
					Flags reading.Flags `json:"flags"`
				} `json:"readings"`
			}
			if err := json.Unmarshal(p, &doc); err != nil {
				t.Fatal(err)
			}
			for _, r := range doc.Readings {
				flags = append(flags, r.Flags)
			}
		} else {
			var recs []struct {
				V     *float64      `json:"v"`
				Flags reading.Flags `json:"flags"`
			}
			if err := json.Unmarshal(p, &recs); err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.V != nil {
					flags = append(flags, r.Flags)
				}
			}
		}
		if len(flags) != len(b.Readings) {
			t.Fatalf("%s: %d readings, want %d", name, len(flags), len(b.Readings))
		}
		for i, r := range b.Readings {
			if flags[i] != r.Flags {
				t.Errorf("%s: reading %d flags %d, want %d", name, i, flags[i], r.Flags)
			}
		}
	}

	p, err := Influx{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	want := []string{"", "unsynced", "corrected", "implausible", "implausible", "implausible", ""}
	if len(lines) != 2*len(want) {
		t.Fatalf("influx: %d lines, want %d:\n%s", len(lines), 2*len(want), p)
	}
	for i, l := range lines {
		tag := ""
		if _, after, ok := strings.Cut(l, ",clock="); ok {
			tag, _, _ = strings.Cut(after, ",")
			tag, _, _ = strings.Cut(tag, " ")
		}
		if tag != want[i/2] {
			t.Errorf("influx line %q: clock tag %q, want %q", l, tag, want[i/2])
		}
	}
}
