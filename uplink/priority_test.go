package uplink

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/config"
)

// arrival is one data batch as the broker delivered it, in global order.
type arrival struct {
	stream      string
	first, last uint64
}

type arrivals struct {
	mu  sync.Mutex
	all []arrival
}

func recordArrivals(t *testing.T, h *harness) *arrivals {
	a := &arrivals{}
	err := h.b.Subscribe(dataPrefix+"#", func(_ string, payload []byte) {
		var b gotBatch
		if json.Unmarshal(payload, &b) != nil {
			return
		}
		a.mu.Lock()
		a.all = append(a.all, arrival{b.Stream, b.FirstSeq, b.LastSeq})
		a.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitCovered waits until the subscriber has batches covering 1..last (the
// broker delivers after it acknowledges).
func (h *harness) waitCovered(stream string, last uint64) []gotBatch {
	h.t.Helper()
	var got []gotBatch
	waitFor(h.t, stream+" batches covering 1.."+itoa(last), func() bool {
		got = h.col.get(stream)
		seen := map[uint64]bool{}
		for _, b := range got {
			for s := b.FirstSeq; s <= b.LastSeq; s++ {
				seen[s] = true
			}
		}
		return len(seen) >= int(last) && seen[last]
	})
	return got
}

func (a *arrivals) get() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.all...)
}

// checkPartition asserts that a stream's batches (no resends expected)
// cover 1..last exactly once, in any order, with every reading present
// unless lost, and the holes announced exactly once in total.
func checkPartition(t *testing.T, batches []gotBatch, last uint64, lost map[uint64]bool) {
	t.Helper()
	checkCover(t, batches, last, lost, true)
}

// checkCover is checkPartition; with once false a seq may be covered again
// (resends after a lost connection) and dropped may repeat.
func checkCover(t *testing.T, batches []gotBatch, last uint64, lost map[uint64]bool, once bool) {
	t.Helper()
	covered := map[uint64]int{}
	var dropped uint64
	for i, b := range batches {
		if b.LastSeq-b.FirstSeq+1 != uint64(b.Count)+b.Dropped || b.Count != len(b.Readings) {
			t.Errorf("batch %d (%d..%d): count %d + dropped %d do not fill the range", i, b.FirstSeq, b.LastSeq, b.Count, b.Dropped)
		}
		for s := b.FirstSeq; s <= b.LastSeq; s++ {
			covered[s]++
		}
		for _, r := range b.Readings {
			if lost[r.Seq] || r.Value != float64(r.Seq) || r.Seq < b.FirstSeq || r.Seq > b.LastSeq {
				t.Errorf("batch %d (%d..%d): bad reading %d = %v", i, b.FirstSeq, b.LastSeq, r.Seq, r.Value)
			}
		}
		dropped += b.Dropped
	}
	for s := uint64(1); s <= last; s++ {
		if covered[s] == 0 || (once && covered[s] != 1) {
			t.Fatalf("seq %d covered by %d batches, want 1", s, covered[s])
		}
	}
	if once && int(dropped) != len(lost) {
		t.Errorf("batches announce %d dropped, want %d", dropped, len(lost))
	}
}

// The high-priority stream's backlog goes out before the low one's.
func TestPriorityBacklogFirst(t *testing.T) {
	src := newMemSource(3)
	src.Append(2000)
	hi := streamCfg("hi", time.Hour, 50)
	hi.Priority = 10
	lo := streamCfg("lo", time.Hour, 50)
	h := newHarness(t, src, []StreamConfig{lo, hi}, nil)
	arr := recordArrivals(t, h)
	h.run()
	h.waitCursor("hi", 2000)
	h.waitCursor("lo", 2000)
	h.check("hi", 2000, nil)
	h.check("lo", 2000, nil)
	hiSeen := 0
	for _, a := range arr.get() {
		if a.stream == "hi" {
			hiSeen++
			continue
		}
		// drained() runs when hi's last read comes back short, which may be
		// just before its last batch is on the wire: one batch of slack
		if hiSeen < 40-1 {
			t.Fatalf("lo batch %d..%d arrived after only %d of hi's 40 backlog batches", a.first, a.last, hiSeen)
		}
		break
	}
}

// holdClient completes the PUBACK tokens of one topic only once released.
type holdClient struct {
	Client
	topic string
	gate  chan struct{}
}

type heldToken struct {
	mqtt.Token
	done chan struct{}
}

func (h heldToken) Done() <-chan struct{} { return h.done }
func (h heldToken) Wait() bool            { <-h.done; return true }

func (c holdClient) Publish(topic string, qos byte, retained bool, payload any) mqtt.Token {
	tok := c.Client.Publish(topic, qos, retained, payload)
	if topic != c.topic {
		return tok
	}
	done := make(chan struct{})
	go func() {
		<-tok.Done()
		<-c.gate
		close(done)
	}()
	return heldToken{Token: tok, done: done}
}

// While a higher-priority stream drains, a lower one's live tail still goes
// out ahead of its cursor; afterwards the backlog drains around it and
// every seq is covered once, holes announced once.
func TestPriorityLiveTailNotHeld(t *testing.T) {
	src := newMemSource(3)
	src.Append(1000)
	hi := streamCfg("hi", 0, 100)
	hi.Priority = 5
	lo := streamCfg("lo", 0, 100)
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	h := newHarness(t, src, []StreamConfig{hi, lo}, func(c *MQTTConfig, o *Options) {
		c.PublishTimeout = config.D(time.Minute)
		o.NewClient = func(opts *mqtt.ClientOptions) Client {
			return holdClient{Client: mqtt.NewClient(opts), topic: dataPrefix + "hi", gate: gate}
		}
	})
	h.run()
	lost := map[uint64]bool{}
	for i := 0; len(h.col.get("lo")) < 3; i++ {
		if i == 1 {
			first := src.Last() + 1
			src.Skip(3)
			for s := first; s < first+3; s++ {
				lost[s] = true
			}
		}
		src.Append(7)
		time.Sleep(5 * time.Millisecond)
		if i > 6000 {
			t.Fatal("no live tail batch from the held stream")
		}
	}
	if c := src.Cursor("lo"); c != 0 {
		t.Fatalf("lo's cursor moved to %d while hi held its backlog", c)
	}
	for _, b := range h.col.get("lo") {
		if b.FirstSeq <= 1000 {
			t.Fatalf("lo sent backlog batch %d..%d while held", b.FirstSeq, b.LastSeq)
		}
	}
	release()
	src.Append(5)
	last := src.Last()
	h.waitCursor("hi", last)
	h.waitCursor("lo", last)
	isLost := func(s uint64) bool { return lost[s] }
	h.check("hi", last, isLost)
	checkPartition(t, h.waitCovered("lo", last), last, lost)
}

// newest-first: the newest batch arrives first, then the backlog from the
// cursor; the cursor still only moves contiguously.
func TestBackfillNewestFirst(t *testing.T) {
	src := newMemSource(3)
	src.Append(500)
	src.Skip(2) // holes in the backlog, counted once by the drain
	src.Append(498)
	src.Skip(1)
	src.Append(300)
	lost := map[uint64]bool{501: true, 502: true, 1001: true}
	s := streamCfg("raw", time.Hour, 100)
	s.Backfill = BackfillNewestFirst
	h := newHarness(t, src, []StreamConfig{s}, func(c *MQTTConfig, _ *Options) { c.Inflight = 2 })
	h.run()
	h.waitCursor("raw", 1301)
	got := h.waitCovered("raw", 1301)
	if len(got) == 0 || got[0].LastSeq != 1301 || got[0].FirstSeq != 1202 {
		t.Fatalf("first batch %+v, want the newest (1202..1301)", got[0])
	}
	checkPartition(t, got, 1301, lost)
	src.mu.Lock()
	acks := append([]uint64(nil), src.ackHist["raw"]...)
	src.mu.Unlock()
	for _, a := range acks {
		if a >= 1202 && a < 1301 {
			t.Errorf("cursor acked to %d inside the newest batch", a)
		}
	}
	src.Append(10)
	h.u.Flush()
	h.waitCursor("raw", 1311)
	checkPartition(t, h.waitCovered("raw", 1311), 1311, lost)
}

func TestBackfillValidate(t *testing.T) {
	s := streamCfg("x", time.Minute, 10)
	s.Backfill = "sideways"
	if err := s.Validate(); err == nil {
		t.Error("backfill \"sideways\" accepted")
	}
	s.Backfill = BackfillNewestFirst
	s.Aggregate = config.D(time.Minute)
	if err := s.Validate(); err == nil {
		t.Error("newest-first aggregate stream accepted")
	}
	s = streamCfg("x", time.Minute, 10)
	s.Priority = 5000
	if err := s.Validate(); err == nil {
		t.Error("priority 5000 accepted")
	}
}

// newest-first across a lost connection: spans acknowledged before the loss
// are stepped over, the rest is resent from the cursor, nothing is lost.
func TestBackfillNewestFirstReconnect(t *testing.T) {
	src := newMemSource(3)
	src.Append(700)
	src.Skip(2)
	src.Append(300)
	s := streamCfg("raw", time.Hour, 100)
	s.Backfill = BackfillNewestFirst
	h := newHarness(t, src, []StreamConfig{s}, func(c *MQTTConfig, _ *Options) { c.Inflight = 2 })
	h.b.DropOnPublish(dataPrefix, 3)
	h.run()
	h.waitCursor("raw", 1002)
	checkCover(t, h.waitCovered("raw", 1002), 1002, map[uint64]bool{701: true, 702: true}, false)
	if st := h.u.Stats(); st.Disconnects < 1 {
		t.Errorf("no disconnect: %+v", st)
	}
}
