package format

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

func TestCSVGoldenParses(t *testing.T) {
	b := goldenBatch()
	b.Readings = append(b.Readings, reading.Reading{Seq: 107, Name: "odd.unit", Time: b.Readings[0].Time,
		Value: math.Inf(-1), Unit: `a,"quoted" unit` + "\nwith a newline"})
	f, err := Configure("csv", nil, map[string]string{"site": "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "csv", "batch.golden", got)

	rows, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("parse %s: %v", got, err)
	}
	if len(rows) != len(b.Readings)+1 {
		t.Fatalf("%d rows, want header + %d", len(rows), len(b.Readings))
	}
	if h := rows[0]; len(h) != 6 || h[0] != "seq" || h[1] != "name" || h[2] != "ts" || h[3] != "value" || h[4] != "unit" || h[5] != "flags" {
		t.Errorf("header %q", h)
	}
	for i, r := range b.Readings {
		row := rows[i+1]
		seq, _ := strconv.ParseUint(row[0], 10, 64)
		ts, err := time.Parse(time.RFC3339Nano, row[2])
		v, verr := strconv.ParseFloat(row[3], 64)
		fl, _ := strconv.Atoi(row[5])
		if err != nil || verr != nil || seq != r.Seq || row[1] != r.Name || !ts.Equal(r.Time.Truncate(time.Millisecond)) ||
			v != r.Value || row[4] != r.Unit || reading.Flags(fl) != r.Flags {
			t.Errorf("row %d %q does not give back %+v (%v, %v)", i+1, row, r, err, verr)
		}
	}
}

func TestCSVNoHeader(t *testing.T) {
	f, err := Configure("csv", &CSVOptions{Header: false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	got, _ := f.Format(&Batch{Readings: []reading.Reading{{Seq: 9, Name: "a.b", Time: t0, Value: 1.25, Unit: "V", Flags: 1}}})
	if want := "9,a.b,2026-01-02T03:04:05.006Z,1.25,V,1\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	empty, _ := CSV{}.Format(&Batch{})
	if string(empty) != "seq,name,ts,value,unit,flags\n" {
		t.Errorf("empty batch: %q", empty)
	}
	if _, err := configureTOML("csv", `command = ["x"]`, nil); err == nil {
		t.Error("csv accepts a command")
	}
}
