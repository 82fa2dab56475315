package buffer

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// outage makes n readings of nSeries series, one per series per second,
// every reading at a distinct time so that seqs follow the slice order.
func outage(start, n, nSeries int) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		k := start + i
		rs[i] = reading.Reading{
			Name:  fmt.Sprintf("site.s%d", k%nSeries),
			Unit:  "V",
			Time:  t0.Add(time.Duration(k/nSeries) * time.Second).Add(time.Duration(k%nSeries) * time.Millisecond),
			Value: 12 + math.Sin(float64(k)/7)*float64(k%13),
		}
	}
	return rs
}

func openThin(t testing.TB, path string, budget int64) *Ring {
	return openThinTuned(t, path, tuning{budget: budget})
}

func openThinTuned(t testing.TB, path string, tn tuning) *Ring {
	t.Helper()
	log, _ := testLogger(t)
	cfg := testConfig(MinMaxBytes)
	cfg.ThinAt = 0.8
	tn.manual = true
	r, err := open(path, cfg, log, tn)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type thinKey struct {
	name   string
	minute time.Time
}

// checkThinned compares what the ring holds with the raw readings it was
// given (orig[i] has seq i+1): raw readings unchanged, aggregates exact, and
// every seq accounted for (the gap before a _count is value-4, none other).
func checkThinned(t *testing.T, got, orig []reading.Reading) (aggs int) {
	t.Helper()
	want := bruteGroups(orig)
	have, aggs := sumThinned(t, got, orig)
	exact := 0
	for k, w := range want {
		h := have[k]
		if h == nil || h.n != w.n || h.min != w.min || h.max != w.max {
			t.Fatalf("%s %s: have %+v, want %+v", k.name, k.minute, h, w)
		}
		if math.Abs(h.sum-w.sum) > 1e-9*math.Abs(w.sum) {
			t.Fatalf("%s %s: sum %v, want %v", k.name, k.minute, h.sum, w.sum)
		}
		if h.parts == 1 && h.n == w.n {
			exact++
		}
	}
	if len(have) != len(want) {
		t.Fatalf("%d groups, want %d", len(have), len(want))
	}
	t.Logf("%d readings → %d (%d aggregates); %d of %d groups in one aggregate", len(orig), len(got), aggs, exact, len(want))
	return aggs
}

type brute struct {
	n             int
	min, max, sum float64
}

// bruteGroups is every (series, minute) of orig, summed by brute force.
func bruteGroups(orig []reading.Reading) map[thinKey]*brute {
	want := map[thinKey]*brute{}
	for _, r := range orig {
		k := thinKey{r.Name, r.Time.Truncate(time.Minute)}
		b := want[k]
		if b == nil {
			b = &brute{min: r.Value, max: r.Value}
			want[k] = b
		}
		b.n++
		b.min, b.max, b.sum = min(b.min, r.Value), max(b.max, r.Value), b.sum+r.Value
	}
	return want
}

type part struct {
	n             int
	min, max, sum float64
	parts         int
}

// sumThinned checks the seqs and the layout of got (raw readings as in
// orig, each aggregate's gap and order) and sums it per (series, minute):
// raw readings and aggregates alike, the parts of a group counted.
func sumThinned(t *testing.T, got, orig []reading.Reading) (have map[thinKey]*part, aggs int) {
	t.Helper()
	have = map[thinKey]*part{}
	add := func(k thinKey) *part {
		if have[k] == nil {
			have[k] = &part{min: math.Inf(1), max: math.Inf(-1)}
		}
		return have[k]
	}
	var prev uint64
	var cnt *part
	var cntKey thinKey
	for i, r := range got {
		if r.Seq <= prev {
			t.Fatalf("reading %d: seq %d after %d", i, r.Seq, prev)
		}
		gap := r.Seq - prev - 1
		prev = r.Seq
		if r.Flags&reading.Thinned == 0 {
			if gap != 0 {
				t.Fatalf("raw reading at seq %d follows a gap of %d", r.Seq, gap)
			}
			if o := orig[r.Seq-1]; o.Name != r.Name || o.Value != r.Value || !o.Time.Equal(r.Time) {
				t.Fatalf("raw seq %d: got %+v, want %+v", r.Seq, r, o)
			}
			p := add(thinKey{r.Name, r.Time.Truncate(time.Minute)})
			p.n++
			p.min, p.max, p.sum = min(p.min, r.Value), max(p.max, r.Value), p.sum+r.Value
			continue
		}
		aggs++
		base, fn, _ := strings.Cut(r.Name, "_")
		k := thinKey{base, r.Time}
		if r.Time.Truncate(time.Minute) != r.Time {
			t.Fatalf("aggregate %s at %s: not a minute start", r.Name, r.Time)
		}
		if fn == "count" {
			if r.Unit != "" || gap != uint64(r.Value)-thinMin {
				t.Fatalf("%s at seq %d = %v (unit %q) after a gap of %d", r.Name, r.Seq, r.Value, r.Unit, gap)
			}
			cnt, cntKey = add(k), k
			cnt.n += int(r.Value)
			cnt.parts++
			continue
		}
		if gap != 0 || cnt == nil || cntKey != k || r.Unit != "V" {
			t.Fatalf("%s at seq %d: gap %d, unit %q, not after its _count", r.Name, r.Seq, gap, r.Unit)
		}
		switch fn {
		case "min":
			cnt.min = min(cnt.min, r.Value)
		case "max":
			cnt.max = max(cnt.max, r.Value)
		case "mean":
			cnt.sum += r.Value * got[i-3].Value
		default:
			t.Fatalf("unexpected aggregate %s", r.Name)
		}
	}
	if prev != uint64(len(orig)) {
		t.Fatalf("last seq %d, want %d", prev, len(orig))
	}
	return have, aggs
}

// TestThinOutage fills a small ring during an outage (a stream that never
// acknowledges): it thins instead of dropping, exactly, once, and the
// thinned blocks survive a reopen.
func TestThinOutage(t *testing.T) {
	path := dbPath(t)
	const budget = 32 << 10
	r := openThin(t, path, budget)
	r.SetStreams([]string{"cloud"})
	var orig []reading.Reading
	for i := 0; i < 60; i++ { // 60 commits of 100: 25 minutes of 4 series
		rs := outage(len(orig), 100, 4)
		orig = append(orig, rs...)
		r.Append(rs)
		mustFlush(t, r)
	}
	st := mustStats(t, r)
	if st.DroppedTotal != 0 || st.ThinnedTotal == 0 || st.Thinnings == 0 {
		t.Fatalf("dropped %d, thinned %d in %d thinnings: want thinning, no drops", st.DroppedTotal, st.ThinnedTotal, st.Thinnings)
	}
	if st.DataBytes > budget {
		t.Fatalf("data %d bytes over the budget %d", st.DataBytes, budget)
	}
	got := readAll(t, r, 0)
	aggs := checkThinned(t, got, orig)
	if want := uint64(len(orig) - (len(got) - aggs)); st.ThinnedTotal != want {
		t.Fatalf("thinned_total %d, want %d (raw readings replaced)", st.ThinnedTotal, want)
	}

	// Reopen: the thinned blocks load and read the same, and a new scan
	// (thinFrom restarts) never aggregates aggregates.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openThin(t, path, budget)
	defer r.Close()
	r.SetStreams([]string{"cloud"})
	if st2 := mustStats(t, r); st2.RecoveredFrom != "" || st2.ThinnedTotal != st.ThinnedTotal || st2.Thinnings != st.Thinnings {
		t.Fatalf("after reopen: %+v, before %+v", st2, st)
	}
	again := readAll(t, r, 0)
	if len(again) != len(got) {
		t.Fatalf("after reopen %d readings, before %d", len(again), len(got))
	}
	for i := range got {
		if got[i] != again[i] {
			t.Fatalf("reading %d: %+v after reopen, %+v before", i, again[i], got[i])
		}
	}
	for i := 0; i < 20; i++ {
		rs := outage(len(orig), 100, 4)
		orig = append(orig, rs...)
		r.Append(rs)
		mustFlush(t, r)
	}
	got = readAll(t, r, 0)
	for _, x := range got {
		if strings.Count(x.Name, "_") > 1 {
			t.Fatalf("re-aggregated: %s", x.Name)
		}
	}
	if st := mustStats(t, r); st.DroppedTotal != 0 {
		t.Fatalf("dropped %d", st.DroppedTotal)
	}
	checkThinned(t, got, orig)
}

// TestThinSparesAcked: what the stream acknowledged (kept here: pruning of
// delivered blocks is held back) is never thinned.
func TestThinSparesAcked(t *testing.T) {
	r := openThinTuned(t, dbPath(t), tuning{budget: 32 << 10, pruneBytes: 1 << 30})
	defer r.Close()
	r.SetStreams([]string{"cloud"})
	var orig []reading.Reading
	const acked = 1234
	for i := 0; i < 60; i++ {
		rs := outage(len(orig), 100, 4)
		orig = append(orig, rs...)
		r.Append(rs)
		mustFlush(t, r)
		if i == 15 {
			r.Ack("cloud", acked)
		}
	}
	st := mustStats(t, r)
	if st.ThinnedTotal == 0 || st.DroppedTotal != 0 {
		t.Fatalf("thinned %d, dropped %d", st.ThinnedTotal, st.DroppedTotal)
	}
	got := readAll(t, r, 0)
	if got[0].Seq != 1 {
		t.Fatalf("first seq %d: the acknowledged readings were pruned, the test proves nothing", got[0].Seq)
	}
	raw := 0
	for _, x := range got {
		if x.Seq > acked {
			break
		}
		if o := orig[x.Seq-1]; x != (reading.Reading{Seq: x.Seq, Name: o.Name, Unit: o.Unit, Time: o.Time.UTC(), Value: o.Value}) {
			t.Fatalf("acknowledged seq %d changed: %+v, was %+v", x.Seq, x, o)
		}
		raw++
	}
	if raw != acked {
		t.Fatalf("%d acknowledged readings kept, want %d", raw, acked)
	}
	checkThinned(t, got, orig)
}

func TestThinDisabled(t *testing.T) {
	log, _ := testLogger(t)
	r, err := open(dbPath(t), testConfig(MinMaxBytes), log, tuning{manual: true, budget: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetStreams([]string{"cloud"})
	for i := 0; i < 60; i++ {
		r.Append(outage(i*100, 100, 4))
		mustFlush(t, r)
	}
	if st := mustStats(t, r); st.ThinnedTotal != 0 || st.DroppedTotal == 0 {
		t.Fatalf("thin_at 0: thinned %d, dropped %d", st.ThinnedTotal, st.DroppedTotal)
	}
}

func TestThinAtValidate(t *testing.T) {
	for _, v := range []float64{-0.1, 0.05, 1.5, math.NaN()} {
		c := DefaultConfig()
		c.ThinAt = v
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "thin_at") {
			t.Errorf("thin_at %v: %v", v, err)
		}
	}
	for _, v := range []float64{0, 0.5, 0.8, 1} {
		c := DefaultConfig()
		c.ThinAt = v
		if err := c.Validate(); err != nil {
			t.Errorf("thin_at %v: %v", v, err)
		}
	}
}
