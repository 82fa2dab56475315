package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestFleetOutage runs a small fleet through a real broker stop and restart
// and requires what the full run measures: every box up, every box drained
// after the restart, every reading delivered gap-free from seq 1, the
// reconnects recorded, and a report that prints.
func TestFleetOutage(t *testing.T) {
	o := DefaultOptions()
	o.Boxes, o.Sensors = 20, 2
	o.Period, o.Interval = time.Second, 500*time.Millisecond
	o.ReconnectMin, o.ReconnectMax = 200*time.Millisecond, 3*time.Second
	o.Steady, o.Outage, o.DrainTimeout = 2*time.Second, 5*time.Second, 40*time.Second
	o.StartSpread = time.Second
	o.DataDir = t.TempDir()
	rep, err := Run(context.Background(), o, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	if err := rep.OK(); err != nil {
		t.Fatal(err)
	}
	if len(rep.Reconnects) != o.Boxes {
		t.Errorf("%d reconnects recorded after the restart, want one per box (%d)", len(rep.Reconnects), o.Boxes)
	}
	if rep.SteadyReadingsPerSec <= 0 {
		t.Errorf("steady readings/s = %v: nothing reached the broker", rep.SteadyReadingsPerSec)
	}
	if !strings.Contains(out.String(), "| Boxes caught up | 20 / 20 |") {
		t.Errorf("report lacks the drained count:\n%s", out.String())
	}
}

// TestFleetExternalBroker runs boxes through the outage proxy against a
// broker the harness does not own (here another embedded one, standing in
// for Mosquitto), proving the -broker path observes and stages outages.
func TestFleetExternalBroker(t *testing.T) {
	ext, err := startExternal(t)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Boxes, o.Sensors = 5, 1
	o.Period, o.Interval = time.Second, 500*time.Millisecond
	o.ReconnectMin, o.ReconnectMax = 200*time.Millisecond, 2*time.Second
	o.Steady, o.Outage, o.DrainTimeout = time.Second, 2*time.Second, 30*time.Second
	o.StartSpread = 0
	o.Broker = ext
	o.DataDir = t.TempDir()
	rep, err := Run(context.Background(), o, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.OK(); err != nil {
		var out bytes.Buffer
		rep.Print(&out)
		t.Fatalf("%v\n%s", err, out.String())
	}
}

func TestObserverMergesResends(t *testing.T) {
	var d deviceView
	ts := time.Unix(100, 0)
	d.add(seqRange{1, 10, ts})
	d.add(seqRange{21, 30, ts.Add(2 * time.Second)})
	if last, _ := d.prefix(); last != 10 {
		t.Fatalf("prefix with a gap = %d, want 10", last)
	}
	if !d.covered(3, 8) || d.covered(8, 12) {
		t.Fatal("covered is wrong around the first range")
	}
	d.add(seqRange{5, 20, ts.Add(time.Second)}) // a resend overlapping and filling the gap
	last, newest := d.prefix()
	if last != 30 || !newest.Equal(ts.Add(2*time.Second)) || len(d.ranges) != 1 {
		t.Fatalf("after the fill: prefix %d newest %v ranges %v", last, newest, d.ranges)
	}
}

func TestSpread(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	if got := spread(ms(0, 10, 20, 30), 100*time.Millisecond); got != 4 {
		t.Errorf("stampede: peak %d, want 4", got)
	}
	if got := spread(ms(0, 150, 300, 450), 100*time.Millisecond); got != 1 {
		t.Errorf("spread out: peak %d, want 1", got)
	}
}
