package rules

import (
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// memStore is a Store in memory: readings get seqs as they are appended,
// state is kept beside them.
type memStore struct {
	mu    sync.Mutex
	rs    []reading.Reading
	state map[string][]byte
}

func (m *memStore) Append(rs []reading.Reading) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		r.Seq = uint64(len(m.rs) + 1)
		m.rs = append(m.rs, r)
	}
}

func (m *memStore) AppendState(rs []reading.Reading, key string, value []byte) {
	m.Append(rs)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		m.state = map[string][]byte{}
	}
	m.state[key] = append([]byte(nil), value...)
}

func (m *memStore) GetState(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.state[key]
	return v, ok
}

func (m *memStore) Read(from uint64, max int) ([]reading.Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from == 0 {
		from = 1
	}
	var out []reading.Reading
	for i := from - 1; i < uint64(len(m.rs)) && len(out) < max; i++ {
		out = append(out, m.rs[i])
	}
	return out, nil
}

func (m *memStore) Bounds() (uint64, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return 1, uint64(len(m.rs))
}

// named returns the readings of series name.
func (m *memStore) named(name string) []reading.Reading {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []reading.Reading
	for _, r := range m.rs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// fakeClock is a wall clock a test steps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// feed appends one reading of name at t (the wall clock moved there) as
// the sampler does.
func feed(e *Engine, c *fakeClock, name string, t time.Time, v float64) {
	c.Set(t)
	e.Append([]reading.Reading{{Name: name, Time: t, Value: v}})
}

func newEngine(t *testing.T, st Store, c *fakeClock, o Options) *Engine {
	t.Helper()
	o.Store, o.Now = st, c.Now
	if o.Interval == nil {
		o.Interval = func(string) time.Duration { return time.Second }
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
