package format

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// An alarm reading carries its rule's severity; every other reading is
// written as before (no severity key at all).
func TestJSONSeverityOnAlarmReadings(t *testing.T) {
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b := &Batch{Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 2, Readings: []reading.Reading{
		{Seq: 1, Name: "battery.voltage", Time: ts, Value: 11.5, Unit: "V"},
		{Seq: 2, Name: "alarm.battery_low", Time: ts, Value: 1},
	}, Severity: func(name string) string {
		if name == "alarm.battery_low" {
			return "critical"
		}
		return ""
	}}
	out, err := JSON{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Readings []map[string]any `json:"readings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if _, has := doc.Readings[0]["severity"]; has {
		t.Errorf("battery.voltage has a severity: %s", out)
	}
	if got := doc.Readings[1]["severity"]; got != "critical" {
		t.Errorf("alarm severity = %v, want critical: %s", got, out)
	}
	// Without a Severity function the document is the one of before.
	b.Severity = nil
	plain, _ := JSON{}.Format(b)
	want := `{"device":"d","stream":"s","first_seq":1,"last_seq":2,"count":2,"dropped":0,"readings":[` +
		`{"seq":1,"name":"battery.voltage","ts":"2026-12-01T00:00:00.000Z","value":11.5,"unit":"V"},` +
		`{"seq":2,"name":"alarm.battery_low","ts":"2026-12-01T00:00:00.000Z","value":1,"unit":""}]}`
	if string(plain) != want {
		t.Errorf("got  %s\nwant %s", plain, want)
	}
}
