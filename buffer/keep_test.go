package buffer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// keepNow is the fake wall clock of the keep tests.
var keepNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// hourly makes n readings of nSeries series for the given hour before
// keepNow (hour 1 is the last hour), spread over that hour.
func hourly(hoursAgo, n, nSeries int, base int) []reading.Reading {
	rs := make([]reading.Reading, n)
	start := keepNow.Add(-time.Duration(hoursAgo) * time.Hour)
	for i := range rs {
		rs[i] = reading.Reading{
			Name:  fmt.Sprintf("site.k%02d", i%nSeries),
			Unit:  "W",
			Time:  start.Add(time.Duration(i) * time.Hour / time.Duration(n)),
			Value: float64(base + i),
		}
	}
	return rs
}

func openKeep(t *testing.T, path string, maxBytes int64, keep time.Duration, tn tuning) *Ring {
	t.Helper()
	tn.manual = true
	tn.now = func() time.Time { return keepNow }
	cfg := testConfig(maxBytes)
	cfg.Keep = config.D(keep)
	log, _ := testLogger(t)
	r, err := open(path, cfg, log, tn)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fillAcked appends 48 hours of readings, oldest first, one commit per
// hour, with a stream acknowledging everything after each commit.
func fillAcked(t *testing.T, r *Ring) {
	t.Helper()
	r.SetStreams([]string{"mqtt"})
	for h := 48; h >= 1; h-- {
		r.Append(hourly(h, 360, 6, (48-h)*360))
		mustFlush(t, r)
		_, last := r.Bounds()
		r.Ack("mqtt", last)
		mustFlush(t, r)
	}
}

// oldestTime is the time of the oldest reading Read returns.
func oldestTime(t *testing.T, r *Ring) time.Time {
	t.Helper()
	rs, err := r.Read(0, 1)
	if err != nil || len(rs) != 1 {
		t.Fatalf("Read(0, 1) = %v, %v", rs, err)
	}
	return rs[0].Time
}

func TestKeepZeroPrunesDelivered(t *testing.T) {
	r := openKeep(t, dbPath(t), 4<<20, 0, tuning{})
	defer r.Close()
	fillAcked(t, r)
	// Without keep the delivered readings go a page's worth at a time:
	// far less than an hour of them (360 readings, ~3 KiB) is left.
	if st := mustStats(t, r); st.Readings > 360 {
		t.Fatalf("keep 0: %d delivered readings kept, want at most one hour's 360", st.Readings)
	}
}

func TestKeepKeepsDeliveredReadings(t *testing.T) {
	for _, how := range []string{"config", "SetKeep"} {
		t.Run(how, func(t *testing.T) {
			path := dbPath(t)
			cfgKeep := 24 * time.Hour
			if how == "SetKeep" {
				cfgKeep = 0
			}
			r := openKeep(t, path, 4<<20, cfgKeep, tuning{})
			if how == "SetKeep" {
				r.SetKeep(24 * time.Hour)
			}
			fillAcked(t, r)
			check := func(r *Ring, when string, extra int) {
				t.Helper()
				cutoff := keepNow.Add(-24 * time.Hour)
				got := readAll(t, r, 0)
				if len(got) < 24*360 {
					t.Fatalf("%s: %d readings left, want at least the last 24 h's %d", when, len(got), 24*360)
				}
				// The newest 24 h are all there, in order.
				tail := got[len(got)-extra-24*360 : len(got)-extra]
				for i, g := range tail {
					if want := float64(24*360 + i); g.Value != want || g.Time.Before(cutoff) {
						t.Fatalf("%s: reading %d of the last 24 h: value %v at %s, want %v after %s", when, i, g.Value, g.Time, want, cutoff)
					}
				}
				// Older ones are pruned but for less than a page's worth
				// of blocks straddling the cutoff (at most an hour here).
				if old := oldestTime(t, r); old.Before(cutoff.Add(-time.Hour)) {
					t.Fatalf("%s: oldest reading at %s, want nothing older than an hour before %s", when, old, cutoff)
				}
				if st := mustStats(t, r); st.DroppedTotal != 0 {
					t.Fatalf("%s: dropped_total %d: kept delivered readings pruned count as nothing lost", when, st.DroppedTotal)
				}
				var out bytes.Buffer
				first, last := r.Bounds()
				if err := r.Export(&out, "jsonl", first, last); err != nil {
					t.Fatalf("%s: export: %v", when, err)
				}
				var x struct {
					Seq   uint64  `json:"seq"`
					Value float64 `json:"value"`
				}
				line, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
				if err := json.Unmarshal(line, &x); err != nil || x.Seq != first || x.Value != got[0].Value {
					t.Fatalf("%s: export's first line %q (%v), want seq %d value %v", when, line, err, first, got[0].Value)
				}
			}
			check(r, "after the commits", 0)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r = openKeep(t, path, 4<<20, cfgKeep, tuning{})
			defer r.Close()
			if how == "SetKeep" {
				r.SetKeep(24 * time.Hour)
			}
			r.SetStreams([]string{"mqtt"})
			// A commit after the reopen prunes nothing kept.
			r.Append(hourly(0, 10, 6, 48*360))
			mustFlush(t, r)
			_, last := r.Bounds()
			r.Ack("mqtt", last)
			mustFlush(t, r)
			check(r, "after a reopen", 10)
		})
	}
}

// Under capacity pressure the kept delivered readings go first: nothing
// undelivered is thinned or dropped while delivered readings remain.
func TestKeepYieldsToUndelivered(t *testing.T) {
	for _, thinAt := range []float64{0, 0.8} {
		t.Run(fmt.Sprintf("thin_at=%v", thinAt), func(t *testing.T) {
			path := dbPath(t)
			tn := tuning{}
			tn.now = func() time.Time { return keepNow }
			tn.manual = true
			cfg := testConfig(MinMaxBytes) // a 128 KiB budget: ~10k readings
			cfg.Keep = config.D(7 * 24 * time.Hour)
			cfg.ThinAt = thinAt
			log, _ := testLogger(t)
			r, err := open(path, cfg, log, tn)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.SetStreams([]string{"mqtt"})
			// 48 h delivered (all younger than keep): fills the ring.
			for h := 48; h >= 25; h-- {
				r.Append(hourly(h, 360, 6, (48-h)*360))
				mustFlush(t, r)
				_, last := r.Bounds()
				r.Ack("mqtt", last)
				mustFlush(t, r)
			}
			_, delivered := r.Bounds()
			st := mustStats(t, r)
			if st.DataBytes < r.budget/2 {
				t.Fatalf("data %d bytes: the test needs the delivered readings to fill the %d budget", st.DataBytes, r.budget)
			}
			// Then the link goes down: two hours undelivered, less than
			// half the budget, at 5 readings a minute per series (so that
			// thinning would find groups to aggregate).
			const undelivered = 2 * 1800
			for h := 24; h >= 23; h-- {
				r.Append(hourly(h, 1800, 6, 1e6+(24-h)*1800))
				mustFlush(t, r)
			}
			st = mustStats(t, r)
			if st.DroppedTotal != 0 || st.ThinnedTotal != 0 {
				t.Fatalf("dropped %d, thinned %d undelivered readings while delivered ones were kept", st.DroppedTotal, st.ThinnedTotal)
			}
			if st.FirstSeq <= 1 {
				t.Fatalf("first seq %d: no delivered reading made room", st.FirstSeq)
			}
			// Every undelivered reading is there, raw.
			got := readAll(t, r, delivered+1)
			if len(got) != undelivered {
				t.Fatalf("%d undelivered readings readable, want %d", len(got), undelivered)
			}
			for i, g := range got {
				if g.Seq != delivered+1+uint64(i) || g.Value != float64(1e6+i) || g.Flags&reading.Thinned != 0 {
					t.Fatalf("undelivered reading %d: seq %d flags %v", i, g.Seq, g.Flags)
				}
			}
			if st.DataBytes > r.budget {
				t.Fatalf("data %d bytes over the %d budget", st.DataBytes, r.budget)
			}
		})
	}
}

func TestKeepValidate(t *testing.T) {
	c := DefaultConfig()
	if c.Keep.Duration != 0 {
		t.Fatalf("default keep %s, want 0s", c.Keep.Duration)
	}
	c.Keep = config.D(-time.Second)
	if err := c.Validate(); err == nil {
		t.Fatal("keep -1s validated")
	}
	c.Keep = config.D(400 * 24 * time.Hour)
	if err := c.Validate(); err == nil {
		t.Fatal("keep 400 days validated")
	}
	c.Keep = config.D(7 * 24 * time.Hour)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The horizon is the larger of [buffer] keep and what the agent asks for.
func TestKeepIsTheLarger(t *testing.T) {
	r := openKeep(t, dbPath(t), 4<<20, time.Hour, tuning{})
	defer r.Close()
	for _, c := range []struct{ agent, want time.Duration }{
		{0, time.Hour}, {24 * time.Hour, 24 * time.Hour}, {10 * time.Minute, time.Hour}, {-time.Hour, time.Hour},
	} {
		r.SetKeep(c.agent)
		if got, st := r.Keep(), mustStats(t, r); got != c.want || st.Keep != c.want {
			t.Errorf("keep 1h, SetKeep(%s): Keep() %s, Stats.Keep %s, want %s", c.agent, got, st.Keep, c.want)
		}
	}
}

// A box without RTC boots with its clock behind (the time saved at the
// last shutdown): every kept block looks newer than now, and none is
// pruned while the streams acknowledge; once the clock is right again,
// what is older than keep goes.
func TestKeepClockBehindPrunesNothing(t *testing.T) {
	path := dbPath(t)
	r := openKeep(t, path, 4<<20, 24*time.Hour, tuning{})
	fillAcked(t, r)
	before := mustStats(t, r).Readings
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	clock := keepNow.Add(-10 * 24 * time.Hour)
	tn := tuning{manual: true, now: func() time.Time { return clock }}
	cfg := testConfig(4 << 20)
	cfg.Keep = config.D(24 * time.Hour)
	log, _ := testLogger(t)
	r, err := open(path, cfg, log, tn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetStreams([]string{"mqtt"})
	for i := range 20 {
		rs := hourly(0, 360, 6, 1e6+i*360)
		for j := range rs {
			rs[j].Time = clock.Add(time.Duration(i*360+j) * time.Second)
		}
		r.Append(rs)
		mustFlush(t, r)
		_, last := r.Bounds()
		r.Ack("mqtt", last)
		mustFlush(t, r)
	}
	if st := mustStats(t, r); st.Readings != before+20*360 {
		t.Fatalf("%d readings with the clock behind, want all %d kept", st.Readings, before+20*360)
	}
	clock = keepNow.Add(time.Hour) // synced: a day later than the fill's end
	r.Append(hourly(0, 10, 6, 2e6))
	mustFlush(t, r)
	_, last := r.Bounds()
	r.Ack("mqtt", last)
	mustFlush(t, r)
	// Less than a page's worth of blocks (~1.3 h of these readings) may
	// wait beyond the cutoff.
	if old := oldestTime(t, r); old.Before(clock.Add(-26 * time.Hour)) {
		t.Fatalf("oldest reading at %s once the clock is right, want nothing much older than %s", old, clock.Add(-24*time.Hour))
	}
}
