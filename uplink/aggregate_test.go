package uplink

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// appendAt commits one reading with the given time, value and flags.
func appendAt(m *memSource, name string, at time.Time, v float64, fl reading.Flags) uint64 {
	m.mu.Lock()
	s := m.next
	m.rs = append(m.rs, reading.Reading{Seq: s, Name: name, Time: at, Value: v, Unit: "V", Flags: fl})
	m.next++
	subs := m.subs
	m.mu.Unlock()
	for _, c := range subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	return s
}

// aggDoc is a received aggregate batch.
type aggDoc struct {
	Stream    string `json:"stream"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Count     int    `json:"count"`
	Dropped   uint64 `json:"dropped"`
	Aggregate string `json:"aggregate"`
	Readings  []struct {
		Seq   uint64    `json:"seq"`
		Name  string    `json:"name"`
		TS    time.Time `json:"ts"`
		Value float64   `json:"value"`
		Unit  string    `json:"unit"`
		Flags int       `json:"flags"`
	} `json:"readings"`
}

func decodeAgg(t *testing.T, payloads [][]byte) []aggDoc {
	t.Helper()
	var out []aggDoc
	for _, p := range payloads {
		var d aggDoc
		if err := json.Unmarshal(p, &d); err != nil {
			t.Fatalf("batch %s: %v", p, err)
		}
		out = append(out, d)
	}
	return out
}

type aggID struct {
	name string
	ts   time.Time
}

// bruteAggregate computes the expected aggregates of rs over windows
// starting before end, independently of aggregator.
func bruteAggregate(rs []reading.Reading, window time.Duration, end time.Time, match func(string) bool) map[aggID]float64 {
	type acc struct {
		vals  []float64
		lastT time.Time
		last  float64
		first float64
		n     int
	}
	accs := map[aggID]*acc{}
	for _, r := range rs {
		ws := r.Time.Truncate(window)
		if !match(r.Name) || !ws.Before(end) {
			continue
		}
		id := aggID{r.Name, ws}
		a := accs[id]
		if a == nil {
			a = &acc{first: r.Value}
			accs[id] = a
		}
		a.n++
		if !r.Time.Before(a.lastT) {
			a.lastT, a.last = r.Time, r.Value
		}
		if !math.IsNaN(r.Value) {
			a.vals = append(a.vals, r.Value)
		}
	}
	want := map[aggID]float64{}
	for id, a := range accs {
		mn, mx, sum := math.Inf(1), math.Inf(-1), 0.0
		for _, v := range a.vals {
			mn, mx, sum = math.Min(mn, v), math.Max(mx, v), sum+v
		}
		want[aggID{id.name + "_count", id.ts}] = float64(a.n)
		want[aggID{id.name + "_last", id.ts}] = a.last
		want[aggID{id.name + "_first", id.ts}] = a.first
		if len(a.vals) > 0 {
			want[aggID{id.name + "_min", id.ts}] = mn
			want[aggID{id.name + "_max", id.ts}] = mx
			want[aggID{id.name + "_sum", id.ts}] = sum
			want[aggID{id.name + "_mean", id.ts}] = sum / float64(len(a.vals))
		}
	}
	return want
}

// checkAggBatches checks the batches against want: every aggregate once
// and exact, ranges contiguous from 1, every batch marked with the window.
func checkAggBatches(t *testing.T, docs []aggDoc, want map[aggID]float64, window string) {
	t.Helper()
	got := map[aggID]float64{}
	next := uint64(1)
	for i, d := range docs {
		if d.Aggregate != window {
			t.Errorf("batch %d: aggregate %q, want %q", i, d.Aggregate, window)
		}
		if d.FirstSeq != next {
			t.Errorf("batch %d: first_seq %d, want %d (contiguous ranges)", i, d.FirstSeq, next)
		}
		next = d.LastSeq + 1
		if d.Count != len(d.Readings) {
			t.Errorf("batch %d: count %d, %d readings", i, d.Count, len(d.Readings))
		}
		for _, r := range d.Readings {
			id := aggID{r.Name, r.TS}
			if _, dup := got[id]; dup {
				t.Errorf("%s at %s published twice", r.Name, r.TS)
			}
			got[id] = r.Value
			if strings.HasSuffix(r.Name, "_count") != (r.Unit == "") {
				t.Errorf("%s: unit %q", r.Name, r.Unit)
			}
		}
	}
	for id, v := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s at %s missing", id.name, id.ts.Format(time.TimeOnly))
		case math.Abs(g-v) > 1e-9*math.Max(1, math.Abs(v)):
			t.Errorf("%s at %s = %v, want %v", id.name, id.ts.Format(time.TimeOnly), g, v)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected %s at %s (an incomplete window?)", id.name, id.ts.Format(time.TimeOnly))
		}
	}
}

func aggStream(name string, window time.Duration, maxBatch int, fns []string, match ...string) StreamConfig {
	c := streamCfg(name, 0, maxBatch, match...)
	c.Aggregate, c.Functions = config.D(window), fns
	return c
}

// TestAggregateLive publishes complete windows only, exactly, and the next
// window once a reading past its end plus the grace arrives.
func TestAggregateLive(t *testing.T) {
	src := newMemSource(1)
	t0 := src.t0 // on the minute
	var all []reading.Reading
	add := func(i int) {
		at := t0.Add(time.Duration(i) * time.Second)
		va, vb := float64(i)*0.5, float64(i%7)-3
		if i == 70 {
			vb = math.NaN() // a failed read: counted, not averaged
		}
		var fl reading.Flags
		if i == 65 {
			fl = reading.ClockUnsynced
		}
		for _, r := range []reading.Reading{{Name: "a.v", Value: va, Flags: fl}, {Name: "b.v", Value: vb}, {Name: "c.v", Value: 1}} {
			r.Time = at
			r.Seq = appendAt(src, r.Name, at, r.Value, r.Flags)
			all = append(all, r)
		}
	}
	for i := range 150 {
		add(i)
	}
	fns := AggregateFunctions()
	u, col := runFormatStreams(t, src, []StreamConfig{aggStream("summary", time.Minute, 1000, fns, "a.*", "b.*")})
	match := func(n string) bool { return n != "c.v" }
	topic := "karana/" + dev + "/data/summary"

	// newest 2m29s: windows 0 and 1 are complete, 2 is not
	waitFor(t, "cursor at the end of minute 1", func() bool { return src.Cursor("summary") >= 360 })
	time.Sleep(50 * time.Millisecond)
	if c := src.Cursor("summary"); c != 360 {
		t.Fatalf("cursor %d, want 360 (the last reading before 22:02)", c)
	}
	waitFor(t, "batches", func() bool { return len(col.payloads(topic)) > 0 })
	checkAggBatches(t, decodeAgg(t, col.payloads(topic)), bruteAggregate(all, time.Minute, t0.Add(2*time.Minute), match), "1m")

	for _, d := range decodeAgg(t, col.payloads(topic)) {
		for _, r := range d.Readings {
			unsynced := r.Name[:1] == "a" && r.TS.Equal(t0.Add(time.Minute))
			if (r.Flags != 0) != unsynced {
				t.Errorf("%s at %s: flags %d", r.Name, r.TS, r.Flags)
			}
		}
	}

	// newest 3m03s: within the grace after 22:03, window 2 must wait
	for i := 150; i < 184; i++ {
		add(i)
	}
	u.Flush()
	time.Sleep(100 * time.Millisecond)
	if c := src.Cursor("summary"); c != 360 {
		t.Fatalf("cursor %d within the grace, want 360", c)
	}
	for i := 184; i < 190; i++ {
		add(i)
	}
	waitFor(t, "cursor at the end of minute 2", func() bool { return src.Cursor("summary") >= 540 })
	waitFor(t, "the window 2 batch", func() bool {
		ds := decodeAgg(t, col.payloads(topic))
		return len(ds) > 0 && ds[len(ds)-1].LastSeq == 540
	})
	checkAggBatches(t, decodeAgg(t, col.payloads(topic)), bruteAggregate(all, time.Minute, t0.Add(3*time.Minute), match), "1m")
}

// TestAggregateBacklog drains a two-hour backlog in batches bounded by
// max_batch that end on window boundaries, with every aggregate exact and
// published once, and the holes counted.
func TestAggregateBacklog(t *testing.T) {
	src := newMemSource(1)
	var all []reading.Reading
	for i := range 720 { // 2 h at 10 s
		at := src.t0.Add(time.Duration(i) * 10 * time.Second)
		for k, n := range []string{"a.v", "b.v", "c.v"} {
			v := math.Sin(float64(i)/20) * float64(k+1)
			all = append(all, reading.Reading{Seq: appendAt(src, n, at, v, 0), Name: n, Time: at, Value: v})
		}
		if i == 300 {
			src.Skip(5)
		}
	}
	// mean+count, 20 per batch: 10 groups, so 4 windows of 3 series
	fns := []string{FnMean, FnCount}
	_, col := runFormatStreams(t, src, []StreamConfig{aggStream("m5", 5*time.Minute, 20, fns)})
	topic := "karana/" + dev + "/data/m5"
	end := src.t0.Add(115 * time.Minute) // newest 1:59:50 - grace: 1:55 is the last complete end
	_, last := src.Bounds()
	var lastIn uint64
	for _, r := range all {
		if r.Time.Before(end) {
			lastIn = r.Seq
		}
	}
	waitFor(t, "the backlog drained", func() bool { return src.Cursor("m5") >= lastIn })
	if c := src.Cursor("m5"); c != lastIn || c >= last {
		t.Fatalf("cursor %d, want %d", c, lastIn)
	}
	waitFor(t, "the last batch", func() bool {
		ds := decodeAgg(t, col.payloads(topic))
		return len(ds) > 0 && ds[len(ds)-1].LastSeq == lastIn
	})
	docs := decodeAgg(t, col.payloads(topic))
	want := bruteAggregate(all, 5*time.Minute, end, func(string) bool { return true })
	for id := range want { // only the functions configured
		if !strings.HasSuffix(id.name, "_mean") && !strings.HasSuffix(id.name, "_count") {
			delete(want, id)
		}
	}
	checkAggBatches(t, docs, want, "5m")
	var dropped uint64
	for i, d := range docs {
		dropped += d.Dropped
		windows := map[time.Time]bool{}
		for _, r := range d.Readings {
			windows[r.TS] = true
		}
		if len(d.Readings) > 24 || len(windows) > 4 {
			t.Errorf("batch %d: %d readings over %d windows, want at most 4 windows", i, len(d.Readings), len(windows))
		}
	}
	if dropped != 5 {
		t.Errorf("dropped %d, want the 5 skipped seqs", dropped)
	}
	if len(docs) < 6 {
		t.Errorf("%d batches for 23 windows at 4 per batch", len(docs))
	}
}

func TestAggregateConfig(t *testing.T) {
	for _, tc := range []struct {
		agg  time.Duration
		fns  []string
		want string // "" valid; else a substring of the error
	}{
		{time.Minute, nil, ""},
		{15 * time.Minute, []string{"min", "max", "sum", "first"}, ""},
		{time.Hour, []string{"mean"}, ""},
		{0, []string{"mean"}, "functions: set without aggregate"},
		{time.Minute, []string{"median"}, `functions[0]: unknown function "median"`},
		{time.Minute, []string{"min", "min"}, `functions[1]: function "min" listed twice`},
		{time.Minute, []string{}, "functions: must list at least one"},
		{7 * time.Second, nil, "aggregate: must divide a day evenly"},
		{1500 * time.Millisecond, nil, "aggregate: must be a whole number of seconds"},
		{500 * time.Millisecond, nil, "aggregate: must be between 1s and 24h0m0s"},
		{48 * time.Hour, nil, "aggregate: must be between"},
	} {
		c := DefaultStreamConfig()
		c.Name, c.Aggregate, c.Functions = "s", config.D(tc.agg), tc.fns
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %v: %v", tc.agg, tc.fns, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %v: error %v, want %q", tc.agg, tc.fns, err, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{time.Minute: "1m", 90 * time.Second: "1m30s", time.Hour: "1h", 30 * time.Second: "30s", 2*time.Hour + 30*time.Minute: "2h30m"} {
		c := StreamConfig{Aggregate: config.D(d)}
		if got := c.AggregateName(); got != want {
			t.Errorf("AggregateName(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestAggregateWindowStart floors times before 1970 (an unsynced clock)
// onto the same grid.
func TestAggregateWindowStart(t *testing.T) {
	a := newAggregator(time.Minute, []string{FnCount}, 10)
	for _, tc := range []struct{ t, want time.Time }{
		{time.Date(2026, 1, 1, 10, 3, 59, 999, time.UTC), time.Date(2026, 1, 1, 10, 3, 0, 0, time.UTC)},
		{time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)},
		{time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)},
	} {
		if got := time.Unix(0, a.windowStart(tc.t.UnixNano())).UTC(); !got.Equal(tc.want) {
			t.Errorf("windowStart(%s) = %s, want %s", tc.t, got, tc.want)
		}
	}
}
