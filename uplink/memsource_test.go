package uplink

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// memSource is the in-memory buffer the tests stream from: a slice in seq
// order, cursors, and signals, with the buffer's faults on demand: overflow
// (DropFront moves Bounds().first) and seqs lost before commit (Skip).
type memSource struct {
	mu       sync.Mutex
	rs       []reading.Reading
	next     uint64 // next seq to assign
	cursors  map[string]uint64
	subs     []chan struct{}
	names    []string
	t0       time.Time
	ackHist  map[string][]uint64 // every Ack, to check it never goes back
	backward []string
}

func newMemSource(series int) *memSource {
	m := &memSource{next: 1, cursors: map[string]uint64{}, ackHist: map[string][]uint64{},
		t0: time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)}
	for i := range series {
		m.names = append(m.names, fmt.Sprintf("sim%d.value", i))
	}
	return m
}

// Append commits n readings (value = seq), cycling over the series names.
func (m *memSource) Append(n int) {
	m.mu.Lock()
	for range n {
		s := m.next
		m.rs = append(m.rs, reading.Reading{
			Seq: s, Name: m.names[int(s)%len(m.names)], Time: m.t0.Add(time.Duration(s) * 100 * time.Millisecond),
			Value: float64(s), Unit: "V",
		})
		m.next++
	}
	subs := m.subs
	m.mu.Unlock()
	for _, c := range subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// AppendNamed commits one reading of the given series.
func (m *memSource) AppendNamed(name string) uint64 {
	m.mu.Lock()
	s := m.next
	m.rs = append(m.rs, reading.Reading{Seq: s, Name: name, Time: m.t0, Value: float64(s)})
	m.next++
	m.mu.Unlock()
	return s
}

// Skip burns n seqs without readings, as readings lost before a commit.
func (m *memSource) Skip(n int) {
	m.mu.Lock()
	m.next += uint64(n)
	m.mu.Unlock()
}

// DropFront deletes readings with seq < upTo, as a ring overflow does.
func (m *memSource) DropFront(upTo uint64) {
	m.mu.Lock()
	i := sort.Search(len(m.rs), func(i int) bool { return m.rs[i].Seq >= upTo })
	m.rs = append([]reading.Reading(nil), m.rs[i:]...)
	m.mu.Unlock()
}

func (m *memSource) Read(from uint64, max int) ([]reading.Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.rs), func(i int) bool { return m.rs[i].Seq >= from })
	j := min(len(m.rs), i+max)
	return append([]reading.Reading(nil), m.rs[i:j]...), nil
}

func (m *memSource) Bounds() (first, last uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.rs) == 0 {
		return m.next, m.next - 1
	}
	return m.rs[0].Seq, m.rs[len(m.rs)-1].Seq
}

func (m *memSource) Last() uint64 {
	_, l := m.Bounds()
	return l
}

func (m *memSource) Cursor(stream string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[stream]
}

func (m *memSource) Ack(stream string, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq < m.cursors[stream] {
		m.backward = append(m.backward, fmt.Sprintf("%s: ack %d after %d", stream, seq, m.cursors[stream]))
	}
	m.cursors[stream] = seq
	m.ackHist[stream] = append(m.ackHist[stream], seq)
}

func (m *memSource) SubscribeCtx(context.Context) <-chan struct{} {
	c := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs = append(m.subs, c)
	m.mu.Unlock()
	return c
}

// Backward lists acks that moved a cursor back (must stay empty).
func (m *memSource) Backward() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.backward...)
}
