package buffer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

func TestExport(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	ts := time.Date(2026, 11, 21, 22, 0, 0, 123456789, time.UTC)
	r.Append([]reading.Reading{
		{Name: "battery.voltage", Unit: "V", Time: ts, Value: 12.5},
		{Name: "battery.current", Unit: "A", Time: ts, Value: -3, Flags: reading.ClockUnsynced},
		{Name: "air.temp", Unit: "°C", Time: ts.Add(time.Second), Value: math.NaN()},
		{Name: "pv.energy", Unit: "Wh", Time: ts.Add(2 * time.Second), Value: 1e22},
		{Name: "pv.energy", Unit: "Wh", Time: ts.Add(3 * time.Second), Value: 1234567},
	})
	mustFlush(t, r)

	var out bytes.Buffer
	if err := r.Export(&out, "jsonl", 0, 0); err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"name":"battery.voltage","ts":"2026-11-21T22:00:00.123Z","value":12.5,"unit":"V","flags":0}
{"seq":2,"name":"battery.current","ts":"2026-11-21T22:00:00.123Z","value":-3,"unit":"A","flags":1}
{"seq":3,"name":"air.temp","ts":"2026-11-21T22:00:01.123Z","value":null,"unit":"°C","flags":0}
{"seq":4,"name":"pv.energy","ts":"2026-11-21T22:00:02.123Z","value":1e+22,"unit":"Wh","flags":0}
{"seq":5,"name":"pv.energy","ts":"2026-11-21T22:00:03.123Z","value":1234567,"unit":"Wh","flags":0}
`
	if out.String() != want {
		t.Errorf("jsonl:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("line is not JSON: %s: %v", line, err)
		}
	}

	out.Reset()
	if err := r.Export(&out, "csv", 2, 4); err != nil {
		t.Fatal(err)
	}
	want = `seq,name,ts,value,unit,flags
2,battery.current,2026-11-21T22:00:00.123Z,-3,A,1
3,air.temp,2026-11-21T22:00:01.123Z,NaN,°C,0
4,pv.energy,2026-11-21T22:00:02.123Z,1e+22,Wh,0
`
	if out.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", out.String(), want)
	}
	if recs, err := csv.NewReader(strings.NewReader(out.String())).ReadAll(); err != nil || len(recs) != 4 {
		t.Errorf("csv does not parse: %v", err)
	}

	out.Reset()
	if err := r.Export(&out, "jsonl", 5, 0); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("from 5: %v %q", err, out.String())
	}
	out.Reset()
	if err := r.Export(&out, "jsonl", 6, 0); err != nil || out.Len() != 0 {
		t.Errorf("from past the end: %v %q", err, out.String())
	}
	if err := r.Export(&out, "xml", 0, 0); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	if err := r.Export(&out, "csv", 4, 2); err == nil {
		t.Error("from after to accepted")
	}
}

func TestExportLarge(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	r.Append(gen(0, 10000, 13))
	mustFlush(t, r)
	var out bytes.Buffer
	if err := r.Export(&out, "csv", 1234, 9876); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 9876-1234+2 || !strings.HasPrefix(lines[1], "1234,") || !strings.HasPrefix(lines[len(lines)-1], "9876,") {
		t.Errorf("export 1234..9876: %d lines, %q .. %q", len(lines), lines[1], lines[len(lines)-1])
	}
}

func TestStatsText(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 10, 2))
	mustFlush(t, r)
	r.Ack("raw", 4)
	st := mustStats(t, r)
	var out bytes.Buffer
	st.WriteText(&out)
	for _, s := range []string{"readings        10 (seq 1..10)", "stream raw", "cursor 4, unsent 6", "8.0 MiB max", "2026-11-21T22:00:00.000Z"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("stats text lacks %q:\n%s", s, out.String())
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"file_bytes":`, `"dropped_total":0`, `"unsent":{"raw":6}`, `"oldest":"2026-11-21T22:00:00Z"`, `"first_seq":1`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("stats JSON lacks %s: %s", k, b)
		}
	}
}
