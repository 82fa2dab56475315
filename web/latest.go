package web

import (
	"sort"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Sink is what the sampler hands its readings to (sensors.Sink; the
// buffer implements it).
type Sink interface {
	Append([]reading.Reading)
}

// Latest sits between the sampler and the buffer and remembers the newest
// value of every series: the page's tiles, its live updates and /metrics
// read it, so none of them reads the SD card, and a value stays on show
// after the buffer pruned it as delivered. It costs one map update per
// reading (about 100 bytes a series) and wakes nobody while no page is
// open.
type Latest struct {
	next Sink

	mu      sync.Mutex
	series  map[string]*Point
	version uint64
	changed chan struct{} // closed at the next Append; nil while nobody waits
}

// Point is a series' newest value.
type Point struct {
	Name    string        `json:"name"`
	Value   float64       `json:"value"`
	Unit    string        `json:"unit"`
	Time    time.Time     `json:"ts"`
	Flags   reading.Flags `json:"flags,omitempty"`
	version uint64
}

// NewLatest returns a Latest that passes every reading on to next.
func NewLatest(next Sink) *Latest {
	return &Latest{next: next, series: map[string]*Point{}}
}

// Append passes rs on, then records them. It does not keep rs.
func (l *Latest) Append(rs []reading.Reading) {
	l.next.Append(rs)
	l.Note(rs)
}

// Note records rs without passing them on: for readings that reached the
// buffer another way (an alarm appended with its state in one commit).
func (l *Latest) Note(rs []reading.Reading) {
	l.mu.Lock()
	l.version++
	for i := range rs {
		r := &rs[i]
		p := l.series[r.Name]
		if p == nil {
			p = &Point{Name: r.Name}
			l.series[r.Name] = p
		}
		p.Value, p.Unit, p.Time, p.Flags, p.version = r.Value, r.Unit, r.Time, r.Flags, l.version
	}
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
}

// Since returns the series updated after version v (0: all), sorted by
// name, and the version to ask from next time.
func (l *Latest) Since(v uint64) ([]Point, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Point, 0, len(l.series))
	for _, p := range l.series {
		if p.version > v {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, l.version
}

// closed is a channel that is always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// ChangedSince returns a channel that is closed once there are updates
// after version v (at once when there are already).
func (l *Latest) ChangedSince(v uint64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.version > v {
		return closed
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}
