package rules

import (
	"fmt"
	"math"
	"sort"
	"time"

	"go.starlark.net/starlark"

	"github.com/karana-energy/karana-edge/reading"
)

// MaxWindowPoints bounds the points a series' window keeps in memory
// (24 bytes each): a day of a 10 s series is 8,640. A window function
// whose window needs points that were evicted gives nothing rather than a
// number computed over part of it.
const MaxWindowPoints = 10000

// ClockStepBack is how far back a reading may be from its series' newest
// before the engine takes it for a clock step rather than a late reading
// (the sampler itself waits out steps back of up to 2 minutes).
const ClockStepBack = 10 * time.Minute

// point is one reading as windows keep it.
type point struct {
	t     int64 // unix ns
	v     float64
	flags reading.Flags
}

// series is what the engine knows of one input series.
type series struct {
	newest point
	has    bool
	// keep is how far back the window reaches (the longest window asked
	// of the series); 0 keeps no window.
	keep time.Duration
	pts  []point // in time order
	// evictedTo is the newest time evicted for lack of room: a window
	// reaching back before it is incomplete.
	evictedTo int64
	// missing: a derived series whose last evaluation gave nothing.
	missing bool
}

// add records p; readings arrive in time order per series, an older one
// (a re-read after a clock step) is inserted in place.
func (s *series) add(p point) {
	if s.has && p.t+int64(ClockStepBack) < s.newest.t {
		// The wall clock went back (a box without RTC that booted with a
		// date ahead, then synced): what was read "after" now is from a
		// clock that was wrong, and keeping it would hold the window
		// shut until the clock caught up.
		i := sort.Search(len(s.pts), func(i int) bool { return s.pts[i].t >= p.t })
		s.pts, s.newest, s.evictedTo = s.pts[:i], p, 0
	}
	if !s.has || p.t >= s.newest.t {
		s.newest, s.has = p, true
	}
	if s.keep <= 0 {
		return
	}
	n := len(s.pts)
	switch {
	case n == 0 || p.t > s.pts[n-1].t:
		s.pts = append(s.pts, p)
	default:
		i := sort.Search(n, func(i int) bool { return s.pts[i].t >= p.t })
		if i < n && s.pts[i].t == p.t {
			s.pts[i] = p // the same time twice: the later value wins
			return
		}
		s.pts = append(s.pts, point{})
		copy(s.pts[i+1:], s.pts[i:])
		s.pts[i] = p
	}
	// Points older than the window are no use; beyond the bound the
	// oldest go and the window is incomplete until they would have aged
	// out anyway.
	cut := s.newest.t - int64(s.keep)
	drop := sort.Search(len(s.pts), func(i int) bool { return s.pts[i].t >= cut })
	if over := len(s.pts) - drop - MaxWindowPoints; over > 0 {
		drop += over
		s.evictedTo = s.pts[drop-1].t
	}
	if drop > 0 {
		if drop > len(s.pts)/2 || cap(s.pts) > 2*MaxWindowPoints {
			s.pts = append(s.pts[:0:0], s.pts[drop:]...)
		} else {
			s.pts = s.pts[drop:]
		}
	}
}

// window returns the points in (at-d, at]; ok is false when part of that
// span was evicted.
func (s *series) window(d time.Duration, at time.Time) ([]point, bool) {
	lo, hi := at.UnixNano()-int64(d), at.UnixNano()
	if s.evictedTo > lo {
		return nil, false
	}
	i := sort.Search(len(s.pts), func(i int) bool { return s.pts[i].t > lo })
	j := sort.Search(len(s.pts), func(i int) bool { return s.pts[i].t > hi })
	return s.pts[i:j], true
}

// reducer computes a window function over a window's points; gap is the
// longest gap integral may bridge. ok is false when the window gives
// nothing.
type reducer func(pts []point, gap time.Duration) (float64, bool)

// windowFuncs read a series' buffered past: f(series, "duration").
var windowFuncs = map[string]reducer{
	"mean": wMean, "min": wMin, "max": wMax, "last": wLast, "delta": wDelta,
	"rate": wRate, "integral": wIntegral, "count": wCount,
}

// valueFuncs are the functions of values. The checker lets through only
// numbers, so the conversions cannot fail; they are checked all the same.
var valueFuncs = map[string]*starlark.Builtin{
	"abs": starlark.NewBuiltin("abs", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		x, err := floats("abs", args, 1)
		if err != nil {
			return nil, err
		}
		return starlark.Float(math.Abs(x[0])), nil
	}),
	"min": of2("min", math.Min),
	"max": of2("max", math.Max),
}

func of2(name string, f func(a, b float64) float64) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		x, err := floats(name, args, 2)
		if err != nil {
			return nil, err
		}
		return starlark.Float(f(x[0], x[1])), nil
	})
}

func floats(name string, args starlark.Tuple, n int) ([2]float64, error) {
	var out [2]float64
	if len(args) != n {
		return out, fmt.Errorf("%s: %d arguments, want %d", name, len(args), n)
	}
	for i, a := range args {
		f, ok := a.(starlark.Float)
		if !ok {
			return out, fmt.Errorf("%s: argument %d is a %s, want a number", name, i+1, a.Type())
		}
		out[i] = float64(f)
	}
	return out, nil
}

// window is name(series, d) bound to sc: a builtin of no arguments.
func (sc *scope) window(name, series string, d time.Duration, f reducer) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		pts, gap, ok := sc.src.window(series, d, sc.at)
		if !ok {
			return sc.miss()
		}
		for _, p := range pts {
			sc.flags |= p.flags
		}
		v, ok := f(pts, gap)
		if !ok {
			return sc.miss()
		}
		return starlark.Float(v), nil
	})
}

// age is age(series) bound to sc: seconds since its newest reading.
func (sc *scope) age(series string) *starlark.Builtin {
	return starlark.NewBuiltin("age", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		p, ok := sc.src.newest(series)
		if !ok {
			return sc.miss()
		}
		sc.flags |= p.flags
		return starlark.Float(float64(sc.at.UnixNano()-p.t) / 1e9), nil
	})
}

func wMean(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	var sum float64
	for _, p := range pts {
		sum += p.v
	}
	return sum / float64(len(pts)), true
}

func wMin(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	m := pts[0].v
	for _, p := range pts[1:] {
		m = math.Min(m, p.v)
	}
	return m, true
}

func wMax(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	m := pts[0].v
	for _, p := range pts[1:] {
		m = math.Max(m, p.v)
	}
	return m, true
}

func wLast(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	return pts[len(pts)-1].v, true
}

func wDelta(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	return pts[len(pts)-1].v - pts[0].v, true
}

// wRate is per second, between the first and the last point.
func wRate(pts []point, _ time.Duration) (float64, bool) {
	if len(pts) < 2 {
		return 0, false
	}
	dt := float64(pts[len(pts)-1].t-pts[0].t) / 1e9
	if dt <= 0 {
		return 0, false
	}
	return (pts[len(pts)-1].v - pts[0].v) / dt, true
}

// wIntegral is the trapezoid rule in value-hours (W → Wh). A gap longer
// than gap (the series' max_age: it was missing) is not bridged: no energy
// is invented for a time nobody measured.
func wIntegral(pts []point, gap time.Duration) (float64, bool) {
	if len(pts) == 0 {
		return 0, false
	}
	var sum float64
	for i := 1; i < len(pts); i++ {
		dt := pts[i].t - pts[i-1].t
		if gap > 0 && dt > int64(gap) {
			continue
		}
		sum += (pts[i].v + pts[i-1].v) / 2 * float64(dt) / float64(time.Hour)
	}
	return sum, true
}

func wCount(pts []point, _ time.Duration) (float64, bool) { return float64(len(pts)), true }
