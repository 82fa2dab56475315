package web

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// On a connected box the stream acknowledges everything within minutes;
// the 24h plot must still show the day: the ring keeps delivered readings
// for PlotKeep (the agent's SetKeep), so points reach back far beyond the
// stream's period.
func TestPlotOnAcknowledgedRing(t *testing.T) {
	ring := openRing(t)
	ring.SetStreams([]string{"mqtt"})
	ring.SetKeep(PlotKeep)
	now := time.Now().UTC().Truncate(time.Minute)
	const period = 10 * time.Minute // the stream's: it acknowledges all every 10 min
	start := now.Add(-20 * time.Hour)
	for at := start; at.Before(now); at = at.Add(period) {
		var rs []reading.Reading
		for m := time.Duration(0); m < period; m += time.Minute {
			for i := range 4 {
				rs = append(rs, reading.Reading{Name: fmt.Sprintf("pv.s%d", i), Unit: "W", Time: at.Add(m), Value: float64(i*1000) + float64(m/time.Minute)})
			}
		}
		ring.Append(rs)
		if err := ring.Flush(); err != nil {
			t.Fatal(err)
		}
		_, last := ring.Bounds()
		ring.Ack("mqtt", last)
		if err := ring.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{opts: Options{DeviceID: "box", Ring: ring, Latest: NewLatest(ring), Now: func() time.Time { return now }, Log: discardLog()}, clients: make(chan struct{}, 1)}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/series?range=24h", nil))
	if w.Code != 200 {
		t.Fatalf("GET /api/series: %d %s", w.Code, w.Body)
	}
	var out struct {
		Oldest float64  `json:"oldest"`
		Keep   float64  `json:"keep"`
		Series []Series `json:"series"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Keep != PlotKeep.Seconds() {
		t.Errorf("keep %v s, want %v", out.Keep, PlotKeep.Seconds())
	}
	if len(out.Series) != 4 {
		t.Fatalf("%d series, want 4", len(out.Series))
	}
	for _, sr := range out.Series {
		if len(sr.T) == 0 {
			t.Fatalf("%s: no points", sr.Name)
		}
		// All 20 h are acknowledged and kept: the first point is the first
		// reading, far older than the stream's period.
		if first := time.Unix(int64(sr.T[0]), 0); !first.Equal(start) {
			t.Errorf("%s: first point at %s, want the first reading's %s (20 h ago; the stream's period is %s)", sr.Name, first, start, period)
		}
	}
}
