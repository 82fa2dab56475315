package uplink

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusRepublishedOnHealthChange: while the connection stays up, a
// change of the health digest (commits start failing, then recover) puts a
// fresh retained status document on the broker: the first at once, the
// next no sooner than a minute later (on the uplink's clock, a fake here)
// and then with the newest state; counters that move in between (depth)
// publish nothing; every document is counted in the bytes sent.
func TestStatusRepublishedOnHealthChange(t *testing.T) {
	var (
		mu       sync.Mutex
		failing  string // buffer_failing_since, "" while healthy
		depth    int
		polls    atomic.Int64 // Health calls
		builds   atomic.Int64 // Status calls: one per document built
		fakeNano atomic.Int64
	)
	fakeNano.Store(time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, fakeNano.Load()).UTC() }
	src := newMemSource(1)
	h := newHarness(t, src, nil, func(_ *MQTTConfig, o *Options) {
		o.Status = func() map[string]any {
			builds.Add(1)
			mu.Lock()
			defer mu.Unlock()
			depth++
			m := map[string]any{"buffer_depth": depth, "built_at": now().Format(time.RFC3339)}
			if failing != "" {
				m["buffer_failing_since"] = failing
			}
			return m
		}
		o.Health = func() string {
			polls.Add(1)
			mu.Lock()
			defer mu.Unlock()
			return "failing_since=" + failing
		}
	})
	h.u.now = now
	h.u.health.poll = 5 * time.Millisecond
	var raw struct {
		sync.Mutex
		docs [][]byte
	}
	if err := h.b.Subscribe(statusTopic, func(_ string, p []byte) {
		raw.Lock()
		raw.docs = append(raw.docs, append([]byte(nil), p...))
		raw.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	docs := func() []map[string]any {
		raw.Lock()
		defer raw.Unlock()
		var out []map[string]any
		for _, p := range raw.docs {
			var m map[string]any
			if err := json.Unmarshal(p, &m); err != nil {
				t.Fatalf("status %s: %v", p, err)
			}
			out = append(out, m)
		}
		return out
	}
	// quiet waits until the watch has polled n more times: every decision
	// before the last of those polls is taken, and a document it decided
	// to send is built (builds) before the next poll.
	quiet := func(n int64) {
		t.Helper()
		from := polls.Load()
		waitFor(t, "health polls", func() bool { return polls.Load() >= from+n })
	}

	h.run()
	waitFor(t, "the online status", func() bool { return len(docs()) == 1 })
	quiet(5)
	if b := builds.Load(); b != 1 {
		t.Fatalf("%d status documents built while only buffer_depth moved, want 1 (the connect's)", b)
	}

	mu.Lock()
	failing = "2026-11-21T22:00:00Z"
	mu.Unlock()
	waitFor(t, "a status with buffer_failing_since", func() bool { return len(docs()) == 2 })
	if d := docs()[1]; d["buffer_failing_since"] != "2026-11-21T22:00:00Z" || d["state"] != "online" || d["built_at"] != "2026-11-21T22:00:00Z" {
		t.Errorf("status after the fault: %v", d)
	}

	// recovery 10 s later: held until a minute after the fault's document
	fakeNano.Add(int64(10 * time.Second))
	mu.Lock()
	failing = ""
	mu.Unlock()
	quiet(5)
	if b := builds.Load(); b != 2 {
		t.Fatalf("%d status documents built 10s after the last, want 2: at most one a minute", b)
	}
	fakeNano.Add(int64(50 * time.Second))
	waitFor(t, "the status after recovery", func() bool { return len(docs()) == 3 })
	if d := docs()[2]; d["buffer_failing_since"] != nil || d["built_at"] != "2026-11-21T22:01:00Z" {
		t.Errorf("status after recovery: %v", d)
	}
	if d := retainedDoc(h); d == nil || d["buffer_failing_since"] != nil || d["built_at"] != "2026-11-21T22:01:00Z" {
		t.Errorf("retained status %v, want the recovered one", d)
	}
	quiet(5)
	if b := builds.Load(); b != 3 {
		t.Errorf("%d documents built, want 3", b)
	}
	if st := h.u.Stats(); st.Connects != 1 || st.Disconnects != 0 {
		t.Errorf("connects %d, disconnects %d: the republish must not need a reconnect", st.Connects, st.Disconnects)
	}
	// the meter counts each document as it counts a batch: payload, topic
	// and MQTT overhead (budget.go)
	var want int64
	raw.Lock()
	for _, p := range raw.docs {
		want += wireBytes(statusTopic, len(p))
	}
	raw.Unlock()
	waitFor(t, "the meter to count 3 documents", func() bool { return h.u.meter.stats().SentToday == want })
}
