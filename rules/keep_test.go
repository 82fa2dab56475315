package rules

import (
	"math"
	"path/filepath"
	"testing"
	"time"
)

// TestIntegralSameAcrossRestartAcknowledged is TestIntegralSameAcrossRestart
// on a connected box: a stream acknowledged every reading before the
// restart, so without keep the buffer would have pruned them and the
// rebuilt window would start empty. The ring keeps what the engine's
// Horizon asks for; the buffer measures age against the real clock, so the
// readings are from the last hours.
func TestIntegralSameAcrossRestartAcknowledged(t *testing.T) {
	derive := []DeriveConfig{{Name: "pv.energy_day", Expr: `integral(pv.power, "24h") / 1000`, Unit: "kWh"}}
	iv := func(string) time.Duration { return 10 * time.Second }
	const n = 6*360 + 1 // 0 s … 6 h every 10 s: 1 kW for 6 h is 6 kWh
	base := time.Now().UTC().Truncate(time.Second).Add(-7 * time.Hour)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * 10 * time.Second) }

	path := filepath.Join(t.TempDir(), "buffer.db")
	ring := openRing(t, path)
	ring.SetStreams([]string{"mqtt"})
	c := &fakeClock{}
	e := newEngine(t, ring, c, Options{Derives: derive, Interval: iv})
	if h := e.Horizon(); h != 24*time.Hour {
		t.Fatalf("Horizon() = %s, want the window's 24h", h)
	}
	ring.SetKeep(e.Horizon())
	for i := 0; i < n/2; i++ {
		feed(e, c, "pv.power", at(i), 1000)
		if i%60 == 59 { // the stream acknowledges everything every 10 min
			if err := ring.Flush(); err != nil {
				t.Fatal(err)
			}
			_, last := ring.Bounds()
			ring.Ack("mqtt", last)
		}
	}
	e.Close()
	if err := ring.Flush(); err != nil {
		t.Fatal(err)
	}
	_, last := ring.Bounds()
	ring.Ack("mqtt", last)
	if err := ring.Close(); err != nil {
		t.Fatal(err)
	}

	ring = openRing(t, path)
	defer ring.Close()
	ring.SetStreams([]string{"mqtt"})
	if ring.Cursor("mqtt") != last {
		t.Fatalf("cursor %d after reopen, want everything (%d) acknowledged", ring.Cursor("mqtt"), last)
	}
	e = newEngine(t, ring, c, Options{Derives: derive, Interval: iv})
	ring.SetKeep(e.Horizon())
	for i := n / 2; i < n; i++ {
		feed(e, c, "pv.power", at(i), 1000)
	}
	got := lastOf(t, ring, "pv.energy_day")
	if math.Abs(got.Value-6.0) > 1e-9 || !got.Time.Equal(at(n-1)) {
		t.Fatalf("energy after restart = %v at %s, want 6 kWh at %s", got.Value, got.Time, at(n-1))
	}
}

func TestHorizonWithoutWindows(t *testing.T) {
	c := &fakeClock{}
	e := newEngine(t, &memStore{}, c, Options{Derives: []DeriveConfig{{Name: "x.y", Expr: `pv.power * 2`}}})
	if h := e.Horizon(); h != 0 {
		t.Fatalf("Horizon() = %s without a window function, want 0", h)
	}
}
