package uplink

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
)

// stateSource is the in-memory source with the buffer's state store.
type stateSource struct {
	*memSource
	smu   sync.Mutex
	state map[string][]byte
}

func (s *stateSource) GetState(k string) ([]byte, bool) {
	s.smu.Lock()
	defer s.smu.Unlock()
	v, ok := s.state[k]
	return append([]byte(nil), v...), ok
}

func (s *stateSource) SetState(k string, v []byte) {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.state[k] = append([]byte(nil), v...)
}

func TestWireBytes(t *testing.T) {
	for _, c := range []struct {
		topic   string
		payload int
		want    int64
	}{
		{"a", 10, 1 + 1 + (2 + 1 + 2 + 10) + 4},
		{"a", 200, 1 + 2 + (2 + 1 + 2 + 200) + 4},       // remaining length takes 2 bytes from 128
		{"t/x", 20000, 1 + 3 + (2 + 3 + 2 + 20000) + 4}, // and 3 from 16384
	} {
		if got := wireBytes(c.topic, c.payload); got != c.want {
			t.Errorf("wireBytes(%q, %d) = %d, want %d", c.topic, c.payload, got, c.want)
		}
	}
}

func TestBudgetParse(t *testing.T) {
	var c struct{ B Budget }
	for _, tc := range []struct {
		in         string
		day, month int64
		err        string
	}{
		{`B = "5MiB/day"`, 5 << 20, 0, ""},
		{`B = ["5MiB/day", "100MiB/month"]`, 5 << 20, 100 << 20, ""},
		{`B = "1000/month"`, 0, 1000, ""},
		{`B = "5MiB"`, 0, 0, "want <size>/day"},
		{`B = "5MiB/week"`, 0, 0, "day or month"},
		{`B = "0/day"`, 0, 0, "positive size"},
		{`B = ["1KiB/day", "2KiB/day"]`, 0, 0, "second daily"},
		{`B = 5`, 0, 0, "want \"5MiB/day\""},
		{`B = [5]`, 0, 0, "budget[0]"},
	} {
		c.B = Budget{}
		_, err := toml.Decode(tc.in, &c)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		d, m, err := c.B.Limits()
		if err != nil || d != tc.day || m != tc.month {
			t.Errorf("%s: limits %d, %d, %v; want %d, %d", tc.in, d, m, err, tc.day, tc.month)
		}
	}
	if b, err := ParseBudget("5MiB/day, 100MiB/month"); err != nil || b.String() != "5MiB/day, 100MiB/month" {
		t.Errorf("round trip: %v %v", b, err)
	}
	if b, err := ParseBudget(""); err != nil || b != (Budget{}) {
		t.Errorf("empty: %v %v", b, err)
	}
	cfg := DefaultMQTTConfig()
	cfg.Budget = Budget{Day: -1}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Errorf("bad budget: %v", err)
	}
}

// The counters roll over per UTC day and month, persist in the state
// store, and never roll back when the clock is not set yet.
func TestMeterRollAndPersist(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &stateSource{state: map[string][]byte{}}
	m, err := newMeter(Budget{Day: 1 << 10, Month: 3 << 10}, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	m.add("t", 1000)
	if sp, wait := m.spent(); sp || wait != 0 {
		t.Fatalf("spent after %d bytes", m.stats().SentToday)
	}
	m.add("t", 100)
	sp, wait := m.spent()
	if !sp || wait != time.Minute {
		t.Fatalf("spent %v, wait %s; want true, 1m (to UTC midnight)", sp, wait)
	}
	// a restart restores the counters
	m2, _ := newMeter(Budget{Day: 1 << 10, Month: 3 << 10}, st, clock)
	if a, b := m.stats(), m2.stats(); a != b || a.SentToday != wireBytes("t", 1000)+wireBytes("t", 100) || a.LeftToday != 0 {
		t.Fatalf("restored %+v, had %+v", b, a)
	}
	// the next day (and month) starts from zero
	now = now.Add(2 * time.Minute)
	if sp, _ := m2.spent(); sp {
		t.Fatal("still spent on a new day")
	}
	if s := m2.stats(); s.SentToday != 0 || s.SentMonth != 0 || s.LeftMonth != 3<<10 {
		t.Fatalf("new month: %+v", s)
	}
	m2.add("t", 10)
	// a clock back in 1970 (no RTC, before NTP) keeps counting into the saved day
	now = time.Unix(0, 0)
	m2.add("t", 10)
	if s := m2.stats(); s.SentToday != 2*wireBytes("t", 10) {
		t.Fatalf("counters rolled back with the clock: %+v", s)
	}
	v, _ := st.GetState(budgetStateKey)
	if !strings.HasPrefix(string(v), "2026-12-01 ") {
		t.Fatalf("state %q", v)
	}
}

// Once the budget is spent only the essential stream keeps sending; the
// other waits with its cursor in place, also across a restart.
func TestBudgetEssentialOnly(t *testing.T) {
	src := &stateSource{memSource: newMemSource(3), state: map[string][]byte{}}
	src.Append(2000)
	bulk := streamCfg("bulk", 0, 20)
	bulk.Priority = 1 // drains first, until the budget stops it
	alarm := streamCfg("alarm", 0, 20)
	alarm.Essential = true
	mk := func() *harness {
		h := newHarness(t, src.memSource, nil, func(c *MQTTConfig, _ *Options) { c.Budget = Budget{Day: 4 << 10} })
		var err error
		h.u, err = New(h.u.cfg, []StreamConfig{bulk, alarm}, src, h.u.opts)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := mk()
	h.run()
	h.waitCursor("alarm", 2000)
	h.check("alarm", 2000, nil)
	bs := h.u.Budget()
	if bs.SentToday < 4<<10 || bs.LeftToday != 0 {
		t.Fatalf("budget stats %+v after 2000 readings", bs)
	}
	c := src.Cursor("bulk")
	if c == 0 || c >= 2000 {
		t.Fatalf("bulk cursor %d: want it stopped part-way by the budget", c)
	}
	if err := h.u.PublishStatus(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a status with the budget", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		for _, s := range h.col.status {
			if v, ok := s["budget_left_today"]; ok && v == float64(0) && s["bytes_sent_today"].(float64) >= 4096 {
				return true
			}
		}
		return false
	})
	h.cancel()
	<-h.runErr
	h.runErr <- nil

	// a restart restores the count: bulk still waits, alarm still sends
	h2 := mk()
	h2.run()
	src.Append(10)
	h2.waitCursor("alarm", 2010)
	if got := src.Cursor("bulk"); got != c {
		t.Fatalf("bulk cursor moved from %d to %d after a restart with the budget spent", c, got)
	}
	b, _ := json.Marshal(h2.u.Budget())
	t.Logf("budget after restart: %s", b)
}

// The real buffer keeps the counters across a reopen (its state store).
func TestBudgetPersistsInBuffer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	now := func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	open := func() *buffer.Ring {
		r, err := buffer.Open(path, buffer.DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open()
	var _ StateStore = r
	m, err := newMeter(Budget{Month: 1 << 20}, r, now)
	if err != nil {
		t.Fatal(err)
	}
	m.add("karana/x/data/raw", 5000)
	want := m.stats()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open()
	defer r.Close()
	m2, _ := newMeter(Budget{Month: 1 << 20}, r, now)
	if got := m2.stats(); got != want || got.SentMonth != wireBytes("karana/x/data/raw", 5000) {
		t.Fatalf("after reopen %+v, want %+v", got, want)
	}
}

// The socket count (wire.go) is a tally of its own, persisted under its
// own key; the budget is spent when it reaches the limit even while the
// publish estimate is far below, and what is left is counted from it.
func TestBudgetCountsWireBytes(t *testing.T) {
	now := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	src := &stateSource{memSource: newMemSource(1), state: map[string][]byte{}}
	m, err := newMeter(Budget{Day: 10_000}, src, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	w := &wireCounter{m: m}
	m.add("t", 100) // 111 B estimated
	w.add(4000, 5000)
	st := m.stats()
	if st.SentToday != 111 || st.WireToday != 9000 || st.WireMonth != 9000 || st.LeftToday != 1000 {
		t.Fatalf("stats %+v, want sent 111, wire 9000, left 1000", st)
	}
	if sp, _ := m.spent(); sp {
		t.Fatal("spent at 9000 of 10000 wire bytes")
	}
	w.add(1000, 0)
	if sp, wait := m.spent(); !sp || wait != time.Minute {
		t.Fatalf("spent %v, wait %s at 10000 wire bytes; want true, 1m", sp, wait)
	}
	if got := string(src.state[wireStateKey]); got != "2026-11-22 10000 2026-11 10000" {
		t.Errorf("persisted wire tally %q", got)
	}
	if w.in.Load() != 5000 || w.out.Load() != 5000 {
		t.Errorf("since-start totals in %d out %d", w.in.Load(), w.out.Load())
	}
	// a restart reads both tallies back; the next UTC day starts both at 0
	m2, _ := newMeter(Budget{Day: 10_000}, src, func() time.Time { return now })
	if st := m2.stats(); st.WireToday != 10000 || st.SentToday != 111 {
		t.Errorf("after a restart: %+v", st)
	}
	now = now.Add(2 * time.Minute)
	if st := m2.stats(); st.WireToday != 0 || st.WireMonth != 10000 || st.SentToday != 0 {
		t.Errorf("next day: %+v", st)
	}
}

// The socket tally moves with every keepalive ping; on an idle box that
// must not cost the card a commit. It is written with the next commit
// something else causes.
func TestWireTallyCausesNoCommit(t *testing.T) {
	cfg := buffer.DefaultConfig()
	cfg.CommitInterval = config.D(10 * time.Minute) // only Flush commits
	r, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	now := func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	m, err := newMeter(Budget{Month: 1 << 20}, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	commits := func() uint64 {
		st, err := r.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return uint64(st.Commits)
	}
	before := commits()
	m.addWire(48) // a PINGREQ and its PINGRESP over TLS
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if c := commits(); c != before {
		t.Errorf("a ping's bytes caused %d commit(s)", c-before)
	}
	if v, ok := r.GetState(wireStateKey); !ok || !strings.HasSuffix(string(v), " 48") {
		t.Errorf("wire tally = %q, %v; want it kept (48 bytes)", v, ok)
	}
}
