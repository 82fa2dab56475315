package rules

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

func openRing(t *testing.T, path string) *buffer.Ring {
	t.Helper()
	r, err := buffer.Open(path, buffer.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lastOf(t *testing.T, r *buffer.Ring, name string) reading.Reading {
	t.Helper()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	var last reading.Reading
	found := false
	for from := uint64(1); ; {
		rs, err := r.Read(from, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		for _, x := range rs {
			if x.Name == name {
				last, found = x, true
			}
		}
		from = rs[len(rs)-1].Seq + 1
	}
	if !found {
		t.Fatalf("no %s reading in the buffer", name)
	}
	return last
}

// A day's PV energy from 10 s power readings: 1 kW for two hours is 2 kWh.
// Half way the daemon stops (the buffer closed); a new engine rebuilds its
// window from the buffer and the day's total comes out the same as without
// the restart, with no state of its own written.
func TestIntegralSameAcrossRestart(t *testing.T) {
	derive := []DeriveConfig{{Name: "pv.energy_day", Expr: `integral(pv.power, "24h") / 1000`, Unit: "kWh"}}
	iv := func(string) time.Duration { return 10 * time.Second }
	const n = 2*360 + 1 // 0 s … 7200 s every 10 s
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }

	path := filepath.Join(t.TempDir(), "buffer.db")
	ring := openRing(t, path)
	c := &fakeClock{}
	e := newEngine(t, ring, c, Options{Derives: derive, Interval: iv})
	for i := 0; i < n/2; i++ {
		feed(e, c, "pv.power", at(i), 1000)
	}
	e.Close()
	if err := ring.Close(); err != nil {
		t.Fatal(err)
	}

	ring = openRing(t, path)
	defer ring.Close()
	e = newEngine(t, ring, c, Options{Derives: derive, Interval: iv})
	for i := n / 2; i < n; i++ {
		feed(e, c, "pv.power", at(i), 1000)
	}
	got := lastOf(t, ring, "pv.energy_day")
	if math.Abs(got.Value-2.0) > 1e-9 || !got.Time.Equal(at(n-1)) {
		t.Fatalf("energy after restart = %v at %s, want 2 kWh at %s", got.Value, got.Time, at(n-1))
	}
}

// The alarm state rides on the ring's commit with its reading: after a
// close and reopen the alarm is still up and is not raised again.
func TestAlarmStateInTheRing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	ring := openRing(t, path)
	c := &fakeClock{}
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, ring, c, Options{Rules: []RuleConfig{r}})
	feed(e, c, "battery.voltage", t0, 11.0)
	e.Close()
	if err := ring.Close(); err != nil {
		t.Fatal(err)
	}
	ring = openRing(t, path)
	defer ring.Close()
	e = newEngine(t, ring, c, Options{Rules: []RuleConfig{r}})
	if got := e.Alarms()[0]; got.State != "raised" {
		t.Fatalf("after reopening: %+v, want raised", got)
	}
	feed(e, c, "battery.voltage", t0.Add(time.Second), 11.0)
	if got := lastOf(t, ring, "alarm.battery_low"); got.Seq != 2 || got.Value != 1 {
		t.Fatalf("last alarm reading %+v, want the first raise (seq 2) only", got)
	}
}
