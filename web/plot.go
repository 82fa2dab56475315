package web

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Ring is what the page reads of the buffer (buffer.Ring).
type Ring interface {
	Read(from uint64, max int) ([]reading.Reading, error)
	Bounds() (first, last uint64)
	Export(w io.Writer, format string, from, to uint64) error
}

// Buckets is how many time buckets a plot's range is cut into; each gives
// its minimum and maximum, so a series comes down to at most 2*Buckets
// points and a one-reading spike still shows.
const Buckets = 500

// readChunk readings are read per buffer transaction while reducing.
const readChunk = 4096

// Series is one series reduced for a plot: points in time order.
type Series struct {
	Name string    `json:"name"`
	Unit string    `json:"unit"`
	T    []float64 `json:"t"` // unix seconds
	V    []float64 `json:"v"`
}

// bucket is one time bucket of one series: its extreme readings.
type bucket struct {
	minT, maxT time.Time
	min, max   float64
	set        bool
}

// reducer collects the buckets of every series over [from, to).
type reducer struct {
	from  time.Time
	width time.Duration
	units map[string]string
	b     map[string][]bucket
}

func newReducer(from, to time.Time) *reducer {
	w := to.Sub(from) / Buckets
	if w <= 0 {
		w = time.Nanosecond
	}
	return &reducer{from: from, width: w, units: map[string]string{}, b: map[string][]bucket{}}
}

func (r *reducer) add(x *reading.Reading) {
	i := int(x.Time.Sub(r.from) / r.width)
	if i < 0 || i >= Buckets || math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
		return
	}
	bs := r.b[x.Name]
	if bs == nil {
		bs = make([]bucket, Buckets)
		r.b[x.Name] = bs
		r.units[x.Name] = x.Unit
	}
	b := &bs[i]
	if !b.set || x.Value < b.min {
		b.min, b.minT = x.Value, x.Time
	}
	if !b.set || x.Value > b.max {
		b.max, b.maxT = x.Value, x.Time
	}
	b.set = true
}

// series returns every series, sorted by name, each bucket's minimum and
// maximum in the order they were sampled (one point when they are the
// same reading).
func (r *reducer) series() []Series {
	out := make([]Series, 0, len(r.b))
	for name, bs := range r.b {
		s := Series{Name: name, Unit: r.units[name]}
		for _, b := range bs {
			if !b.set {
				continue
			}
			first, second := b.minT, b.maxT
			v1, v2 := b.min, b.max
			if second.Before(first) {
				first, second, v1, v2 = second, first, v2, v1
			}
			s.T, s.V = append(s.T, unixSeconds(first)), append(s.V, v1)
			if !second.Equal(first) || v1 != v2 {
				s.T, s.V = append(s.T, unixSeconds(second)), append(s.V, v2)
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// seqAt returns the first seq whose reading is at or after t, by
// bisection: the buffer is in seq order, which is time order but for
// clock steps, so a step can move the start by the readings around it.
// ok is false when every reading is before t.
func seqAt(ring Ring, t time.Time) (uint64, bool, error) {
	first, last := ring.Bounds()
	if last == 0 || last < first {
		return 0, false, nil
	}
	lo, hi := first, last+1 // the answer is in [lo, hi]; hi: none
	for lo < hi {
		mid := lo + (hi-lo)/2
		rs, err := ring.Read(mid, 1)
		if err != nil {
			return 0, false, err
		}
		if len(rs) == 0 {
			hi = mid
			continue
		}
		if rs[0].Time.Before(t) {
			lo = rs[0].Seq + 1
		} else {
			hi = mid // seqs from mid up to rs[0].Seq are holes: reading from mid is reading rs[0]
		}
	}
	return lo, lo <= last, nil
}

// Reduce reads the buffer's readings from from to to and reduces every
// series to its buckets' extremes; first is the oldest reading time the
// buffer holds (zero: empty), so the page can say what the plot covers.
func Reduce(ring Ring, from, to time.Time) (series []Series, oldest time.Time, err error) {
	first, _ := ring.Bounds()
	if rs, err := ring.Read(first, 1); err != nil {
		return nil, time.Time{}, fmt.Errorf("plot: %w", err)
	} else if len(rs) == 1 {
		oldest = rs[0].Time
	}
	seq, ok, err := seqAt(ring, from)
	if err != nil {
		return nil, oldest, fmt.Errorf("plot: finding %s in the buffer: %w", from.Format(time.RFC3339), err)
	}
	red := newReducer(from, to)
	for ok {
		rs, err := ring.Read(seq, readChunk)
		if err != nil {
			return nil, oldest, fmt.Errorf("plot: %w", err)
		}
		for i := range rs {
			red.add(&rs[i])
		}
		if len(rs) < readChunk {
			break
		}
		seq = rs[len(rs)-1].Seq + 1
	}
	return red.series(), oldest, nil
}
