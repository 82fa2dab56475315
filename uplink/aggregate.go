package uplink

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Aggregate streams (aggregate = "1m") publish per-window statistics
// computed from the raw readings in the buffer, so that an aggregate is as
// exact after a week offline as live: nothing is kept in memory across
// batches, the stream reads the raw readings from its cursor again.
//
// Windows are [t0, t0+aggregate) with t0 a multiple of aggregate since the
// Unix epoch (UTC), so "1m" windows start on the minute and boxes agree.
// A window is published once it is complete: the newest committed
// reading's time is at least the window's end plus aggregateGrace (readings
// of a slow sensor reach the buffer a little after faster ones). The stream
// scans readings in seq order and stops at the first one whose time falls
// at or after that boundary; its cursor moves to the last seq it
// aggregated. A reading that reaches the buffer after its window went out
// (a sensor late by more than the grace, a clock stepped back) is not
// lost: it is aggregated into a second record for that window in a later
// batch, which the backend sums or overwrites as it sees fit.
//
// Each function of each (series, window) is one reading named
// "<series>_<function>" ("battery.voltage_mean"), the naming of Telegraf's
// basicstats aggregator (influx: measurement battery, field voltage_mean),
// timed at the window start, with the seq of the newest reading it
// aggregates, the series' unit (none for count) and the union of the
// flags (ClockUnsynced if any input had it). The batch's Aggregate says
// the window ("1m"); its first_seq..last_seq is the raw range aggregated.

// aggregateGrace is how far past a window's end the newest committed
// reading must be before the window counts as complete: a few group
// commits' worth of sensor skew.
const aggregateGrace = 5 * time.Second

// aggReadChunk is how many raw readings one buffer read takes while
// scanning for complete windows.
const aggReadChunk = 4096

// Aggregate function names (key functions).
const (
	FnMin   = "min"
	FnMax   = "max"
	FnMean  = "mean"
	FnLast  = "last"
	FnCount = "count"
	FnSum   = "sum"
	FnFirst = "first"
)

// AggregateFunctions lists the functions an aggregate stream can compute.
func AggregateFunctions() []string {
	return []string{FnMin, FnMax, FnMean, FnLast, FnCount, FnSum, FnFirst}
}

// DefaultAggregateFunctions are computed when functions is not set.
func DefaultAggregateFunctions() []string {
	return []string{FnMin, FnMax, FnMean, FnLast, FnCount}
}

// aggKey is one (series, window) group.
type aggKey struct {
	name  string
	start int64 // window start, Unix ns
}

// aggGroup accumulates one group. min, max, sum and mean are over the
// finite values only; count counts every reading.
type aggGroup struct {
	unit              string
	flags             reading.Flags
	count             int // all readings, finite or not
	sum               reading.Summary
	first, last       float64
	firstT, lastT     int64
	firstSeq, lastSeq uint64 // of the first/last by time (ties: by seq)
	maxSeq            uint64
}

func (g *aggGroup) add(r *reading.Reading) {
	t := r.Time.UnixNano()
	if g.count == 0 || t < g.firstT {
		g.first, g.firstT, g.firstSeq = r.Value, t, r.Seq
	}
	if g.count == 0 || t >= g.lastT {
		g.last, g.lastT, g.lastSeq = r.Value, t, r.Seq
	}
	g.count++
	g.maxSeq = max(g.maxSeq, r.Seq)
	g.flags |= r.Flags
	if g.unit == "" {
		g.unit = r.Unit
	}
	g.sum.Add(r.Value)
}

// aggregator collects groups for one batch.
type aggregator struct {
	window    int64 // ns
	fns       []string
	groups    map[aggKey]*aggGroup
	newest    int64 // newest window start seen
	maxGroups int   // a batch stops before opening a newer window past this
}

func newAggregator(window time.Duration, fns []string, maxGroups int) *aggregator {
	return &aggregator{window: int64(window), fns: fns, groups: map[aggKey]*aggGroup{}, maxGroups: max(1, maxGroups)}
}

// windowStart floors t to the window grid (also before 1970: an unsynced
// clock may say so).
func (a *aggregator) windowStart(t int64) int64 {
	s := t - t%a.window
	if t%a.window < 0 {
		s -= a.window
	}
	return s
}

// full reports whether r would open a window newer than every window in
// the batch while the batch already holds maxGroups groups: the batch ends
// before r, on a window boundary.
func (a *aggregator) full(r *reading.Reading) bool {
	return len(a.groups) >= a.maxGroups && a.windowStart(r.Time.UnixNano()) > a.newest
}

func (a *aggregator) add(r *reading.Reading) {
	ws := a.windowStart(r.Time.UnixNano())
	k := aggKey{r.Name, ws}
	g := a.groups[k]
	if g == nil {
		if len(a.groups) == 0 || ws > a.newest {
			a.newest = ws
		}
		g = &aggGroup{}
		a.groups[k] = g
	}
	g.add(r)
}

// windows is the number of distinct windows in the batch.
func (a *aggregator) windows() int {
	seen := map[int64]bool{}
	for k := range a.groups {
		seen[k.start] = true
	}
	return len(seen)
}

// readings returns the aggregates, by window, then series, then function
// in the configured order.
func (a *aggregator) readings() []reading.Reading {
	keys := make([]aggKey, 0, len(a.groups))
	for k := range a.groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y aggKey) int {
		return cmp.Or(cmp.Compare(x.start, y.start), cmp.Compare(x.name, y.name))
	})
	out := make([]reading.Reading, 0, len(keys)*len(a.fns))
	for _, k := range keys {
		g := a.groups[k]
		t := time.Unix(0, k.start).UTC()
		for _, fn := range a.fns {
			r := reading.Reading{Seq: g.maxSeq, Name: k.name + "_" + fn, Time: t, Unit: g.unit, Flags: g.flags}
			switch fn {
			case FnCount:
				r.Value, r.Unit = float64(g.count), ""
			case FnLast:
				r.Value = g.last
			case FnFirst:
				r.Value = g.first
			default:
				if g.sum.Finite == 0 {
					continue // no finite value to summarize
				}
				switch fn {
				case FnMin:
					r.Value = g.sum.Min
				case FnMax:
					r.Value = g.sum.Max
				case FnSum:
					r.Value = g.sum.Sum
				case FnMean:
					r.Value = g.sum.Mean()
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// aggBatch is the outcome of one scan: the aggregates and the raw range
// they cover.
type aggBatch struct {
	readings []reading.Reading
	last     uint64 // last raw seq covered; next-1 when nothing is complete
	dropped  uint64 // seq holes in the range
	windows  int
	groups   int
	more     bool // stopped on the batch bound with complete windows left
}

// scanAggregate reads raw readings from next and aggregates the complete
// windows, at most maxGroups (series, window) groups unless one window
// alone has more.
func (s *stream) scanAggregate(next uint64, maxGroups int) (aggBatch, error) {
	src := s.u.src
	out := aggBatch{last: next - 1}
	_, lastSeq := src.Bounds()
	if lastSeq < next {
		return out, nil
	}
	tail, err := src.Read(lastSeq, 1)
	if err != nil {
		return out, fmt.Errorf("read newest reading %d: %w", lastSeq, err)
	}
	if len(tail) == 0 {
		return out, nil // overwritten under us: try on the next signal
	}
	a := newAggregator(s.cfg.Aggregate.Duration, s.fns, maxGroups)
	// readings at or after cut are in windows that may still grow
	cut := a.windowStart(tail[0].Time.Add(-aggregateGrace).UnixNano())
	from := next
	var scanned, thinned uint64
scan:
	for from <= lastSeq {
		rs, err := src.Read(from, aggReadChunk)
		if err == nil {
			err = checkOrder(rs, from)
		}
		if err != nil {
			return aggBatch{last: next - 1}, fmt.Errorf("read from seq %d: %w", from, err)
		}
		if len(rs) == 0 {
			break
		}
		for i := range rs {
			r := &rs[i]
			if r.Seq > lastSeq || r.Time.UnixNano() >= cut {
				break scan
			}
			if !s.matches(r.Name) {
				out.last = r.Seq
				scanned++
				thinned += thinGap(r, next)
				continue
			}
			if a.full(r) {
				out.more = true
				break scan
			}
			a.add(r)
			out.last = r.Seq
			scanned++
			thinned += thinGap(r, next)
		}
		from = rs[len(rs)-1].Seq + 1
	}
	if out.last >= next {
		out.dropped = out.last - next + 1 - scanned - thinned // thinned.go
	}
	out.readings = a.readings()
	out.windows = a.windows()
	out.groups = len(a.groups)
	return out, nil
}
