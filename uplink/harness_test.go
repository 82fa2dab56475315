package uplink

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/testbroker"
)

const dev = "site-042"

// tWriter sends log lines to the test log until the test ends (paho and
// status goroutines may outlive a test by a moment).
type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func testConfig(broker string) MQTTConfig {
	c := DefaultMQTTConfig()
	c.Broker = broker
	c.ReconnectMin = config.D(20 * time.Millisecond)
	c.ReconnectMax = config.D(200 * time.Millisecond)
	c.PublishTimeout = config.D(time.Second)
	c.ConnectTimeout = config.D(2 * time.Second)
	return c
}

func streamCfg(name string, period time.Duration, maxBatch int, match ...string) StreamConfig {
	s := DefaultStreamConfig()
	s.Name, s.Period, s.MaxBatch = name, config.D(period), maxBatch
	if len(match) > 0 {
		s.Match = match
	}
	return s
}

// gotBatch is a received JSON batch, decoded with encoding/json.
type gotBatch struct {
	Device   string `json:"device"`
	Stream   string `json:"stream"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Count    int    `json:"count"`
	Dropped  uint64 `json:"dropped"`
	Readings []struct {
		Seq   uint64  `json:"seq"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	} `json:"readings"`
}

// collector subscribes on the broker to everything the device publishes.
type collector struct {
	mu      sync.Mutex
	batches map[string][]gotBatch
	status  []map[string]any
	bad     []string
}

func (c *collector) add(topic string, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case strings.HasSuffix(topic, "/status"):
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			c.bad = append(c.bad, topic+": "+err.Error())
		}
		c.status = append(c.status, m)
	case strings.Contains(topic, "/data/"):
		var b gotBatch
		if err := json.Unmarshal(payload, &b); err != nil {
			c.bad = append(c.bad, topic+": "+err.Error())
			return
		}
		if want := "karana/" + dev + "/data/" + b.Stream; topic != want || b.Device != dev {
			c.bad = append(c.bad, "batch of "+b.Device+"/"+b.Stream+" on "+topic)
		}
		c.batches[b.Stream] = append(c.batches[b.Stream], b)
	}
}

func (c *collector) get(stream string) []gotBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]gotBatch(nil), c.batches[stream]...)
}

type harness struct {
	t      *testing.T
	b      *testbroker.Broker
	src    *memSource
	u      *Uplink
	col    *collector
	cancel context.CancelFunc
	runErr chan error
}

func newHarness(t *testing.T, src *memSource, streams []StreamConfig, tweak func(*MQTTConfig, *Options)) *harness {
	t.Helper()
	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, b: b, src: src, col: &collector{batches: map[string][]gotBatch{}}}
	if err := b.Subscribe("karana/"+dev+"/#", h.col.add); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(b.URL())
	opts := Options{DeviceID: dev, Version: "test", Log: testLogger(t)}
	if tweak != nil {
		tweak(&cfg, &opts)
	}
	h.u, err = New(cfg, streams, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.runErr = make(chan error, 1)
	go func() { h.runErr <- h.u.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.runErr:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			h.t.Error("Run did not return after its context was cancelled")
		}
		if bw := h.src.Backward(); len(bw) > 0 {
			h.t.Errorf("cursor moved backwards: %v", bw)
		}
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		if len(h.col.bad) > 0 {
			h.t.Errorf("bad payloads: %v", h.col.bad)
		}
	})
}

func (h *harness) waitCursor(stream string, seq uint64) {
	h.t.Helper()
	waitFor(h.t, "cursor of "+stream+" to reach "+itoa(seq), func() bool { return h.src.Cursor(stream) >= seq })
	if c := h.src.Cursor(stream); c != seq {
		h.t.Fatalf("cursor of %s = %d, want exactly %d", stream, c, seq)
	}
}

// check waits until the subscriber has seen a batch reaching last (the
// broker sends the PUBACK before it delivers to subscribers) and then checks
// the stream's deliveries.
func (h *harness) check(stream string, last uint64, lost func(uint64) bool) []gotBatch {
	h.t.Helper()
	waitFor(h.t, "the subscriber to receive up to "+itoa(last), func() bool {
		for _, b := range h.col.get(stream) {
			if b.LastSeq >= last {
				return true
			}
		}
		return false
	})
	got := h.col.get(stream)
	checkDelivery(h.t, got, 1, last, lost)
	return got
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// waitFor polls cond; the bound is generous as it only catches hangs.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkDelivery asserts the delivery contract over the batches a stream's
// subscriber received, in arrival order, for a stream matching every series:
//   - no gap: each batch starts at most one past the highest seq covered so far;
//   - a batch that starts earlier (a resend) starts right after a batch
//     boundary seen before (the cursor), never in the middle of one;
//   - readings ascend within their batch, count == len(readings), and
//     last-first+1 == count+dropped;
//   - every seq up to last arrived at least once unless lost(seq), and no
//     lost seq arrived.
func checkDelivery(t *testing.T, batches []gotBatch, from, last uint64, lost func(uint64) bool) {
	t.Helper()
	if lost == nil {
		lost = func(uint64) bool { return false }
	}
	got := map[uint64]bool{}
	boundaries := map[uint64]bool{from - 1: true}
	high := from - 1
	resends := 0
	for i, b := range batches {
		if b.FirstSeq > high+1 {
			t.Errorf("batch %d (%d..%d): gap after %d", i, b.FirstSeq, b.LastSeq, high)
		}
		if b.FirstSeq <= high {
			resends++
			if !boundaries[b.FirstSeq-1] {
				t.Errorf("batch %d (%d..%d): resend does not start after a batch boundary", i, b.FirstSeq, b.LastSeq)
			}
		}
		if b.Count != len(b.Readings) {
			t.Errorf("batch %d: count %d but %d readings", i, b.Count, len(b.Readings))
		}
		if b.LastSeq-b.FirstSeq+1 != uint64(b.Count)+b.Dropped {
			t.Errorf("batch %d (%d..%d): count %d + dropped %d do not fill the range", i, b.FirstSeq, b.LastSeq, b.Count, b.Dropped)
		}
		prev := b.FirstSeq - 1
		for _, r := range b.Readings {
			if r.Seq <= prev || r.Seq > b.LastSeq {
				t.Errorf("batch %d (%d..%d): reading seq %d out of order or range", i, b.FirstSeq, b.LastSeq, r.Seq)
			}
			if r.Value != float64(r.Seq) {
				t.Errorf("reading %d: value %v", r.Seq, r.Value)
			}
			prev = r.Seq
			got[r.Seq] = true
		}
		boundaries[b.LastSeq] = true
		high = max(high, b.LastSeq)
	}
	if high != last {
		t.Errorf("batches cover up to %d, want %d", high, last)
	}
	missing := 0
	for s := from; s <= last; s++ {
		switch {
		case lost(s) && got[s]:
			t.Errorf("seq %d was lost in the buffer but arrived", s)
		case !lost(s) && !got[s]:
			if missing++; missing < 10 {
				t.Errorf("seq %d never arrived", s)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d seqs never arrived", missing)
	}
	t.Logf("%d batches, %d resent", len(batches), resends)
}

// sampler appends n readings every interval until stopped.
func sampler(src *memSource, n int, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				src.Append(n)
			}
		}
	}()
	return func() { close(done); <-finished }
}
