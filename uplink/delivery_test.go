package uplink

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/config"
)

const dataPrefix = "karana/" + dev + "/data/"

// The link goes down for several periods while sampling goes on; after the
// broker comes back on the same port everything arrives, in order, and the
// cursor ends exactly on the last seq.
func TestLinkCutNothingLost(t *testing.T) {
	src := newMemSource(5)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", 50*time.Millisecond, 20)}, nil)
	h.run()
	stop := sampler(src, 7, 10*time.Millisecond)
	waitFor(t, "first deliveries", func() bool { return src.Cursor("raw") > 100 })

	h.b.Stop()
	waitFor(t, "the uplink to notice", func() bool { return !h.u.Connected() })
	time.Sleep(300 * time.Millisecond) // let a PUBACK that beat the cut be processed
	during := src.Cursor("raw")
	lastBefore := src.Last()
	time.Sleep(6 * 50 * time.Millisecond) // six periods down, sampling on
	if c := src.Cursor("raw"); c != during {
		t.Fatalf("cursor moved from %d to %d with no broker", during, c)
	}
	if src.Last() <= lastBefore {
		t.Fatal("sampler stalled during the outage")
	}
	if err := h.b.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	last := src.Last()
	h.waitCursor("raw", last)
	h.check("raw", last, nil)
	st := h.u.Stats()
	if st.Connects < 2 || st.Disconnects < 1 {
		t.Errorf("stats: %d connects, %d disconnects; want a reconnect", st.Connects, st.Disconnects)
	}
	if s := st.Streams[0]; s.Cursor != last || s.Backlog != 0 || s.Readings < last {
		t.Errorf("stream stats %+v", s)
	}
}

// The broker restarts while a large backlog drains with a full window.
func TestBrokerRestartMidDrain(t *testing.T) {
	src := newMemSource(50)
	src.Append(20000)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, nil)
	h.b.SetPublishDelay(time.Millisecond)
	h.run()
	waitFor(t, "the drain to be under way", func() bool { return src.Cursor("raw") >= 3000 })
	if err := h.b.Restart(); err != nil {
		t.Fatal(err)
	}
	h.b.SetPublishDelay(0)
	h.waitCursor("raw", 20000)
	h.check("raw", 20000, nil)
	if st := h.u.Stats(); st.Disconnects < 1 {
		t.Errorf("no disconnect recorded across a broker restart: %+v", st)
	}
}

// The cursor must not move while the broker holds the PUBACK, and moves to
// the batch's last seq once it is released.
func TestCursorWaitsForPuback(t *testing.T) {
	src := newMemSource(3)
	src.Append(10)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", 0, 100)}, nil)
	h.run()
	h.waitCursor("raw", 10)

	release := h.b.HoldPublishes(dataPrefix)
	defer release()
	src.Append(10)
	waitFor(t, "the batch to reach the broker", func() bool { return h.b.Held() == 1 })
	time.Sleep(200 * time.Millisecond)
	if c := src.Cursor("raw"); c != 10 {
		t.Fatalf("cursor moved to %d while the PUBACK was held", c)
	}
	if got := h.col.get("raw"); len(got) != 1 {
		t.Fatalf("subscriber got %d batches before the broker let the second through", len(got))
	}
	release()
	h.waitCursor("raw", 20)
	h.check("raw", 20, nil)
}

// Slow PUBACKs with a pipelined window: order kept, and the cursor only ever
// lands on the last seq of a batch the broker received.
func TestSlowPubacksPipelined(t *testing.T) {
	src := newMemSource(7)
	src.Append(3000)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 50)}, func(c *MQTTConfig, _ *Options) { c.Inflight = 4 })
	h.b.SetPublishDelay(3 * time.Millisecond)
	h.run()
	h.waitCursor("raw", 3000)
	got := h.check("raw", 3000, nil)
	ends := map[uint64]bool{}
	for _, b := range got {
		ends[b.LastSeq] = true
	}
	src.mu.Lock()
	acks := slices.Clone(src.ackHist["raw"])
	src.mu.Unlock()
	for _, a := range acks {
		if !ends[a] {
			t.Errorf("cursor acked to %d, which ends no batch the broker received", a)
		}
	}
	if len(got) != 60 {
		t.Errorf("got %d batches, want 60 (no resends on a slow but healthy link)", len(got))
	}
}

// A backlog drains batch after batch without waiting for the period, at any
// window size, also when every batch in flight is acknowledged before the
// stream looks (a fast broker) and when most ranges match nothing.
func TestBacklogDrainsBackToBack(t *testing.T) {
	for _, inflight := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("inflight=%d", inflight), func(t *testing.T) {
			src := newMemSource(9)
			src.Append(5000)
			h := newHarness(t, src, []StreamConfig{
				streamCfg("raw", time.Hour, 100),
				streamCfg("rare", time.Hour, 10, "sim8.*"),
			}, func(c *MQTTConfig, _ *Options) { c.Inflight = inflight })
			h.run()
			h.waitCursor("raw", 5000)
			h.waitCursor("rare", 5000)
			h.check("raw", 5000, nil)
			if n := len(h.col.get("raw")); n != 50 {
				t.Errorf("raw: %d batches, want 50", n)
			}
			if st := h.u.Stats().Streams[1]; st.Readings != 5000/9 {
				t.Errorf("rare: %d readings sent, want %d", st.Readings, 5000/9)
			}
		})
	}
}

// Overflow while disconnected and seqs lost before commit: the next batches
// announce exactly what is missing.
func TestOverflowAnnouncesDropped(t *testing.T) {
	src := newMemSource(4)
	src.Append(100)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, nil)
	h.run()
	h.waitCursor("raw", 100)

	h.b.Stop()
	waitFor(t, "disconnect", func() bool { return !h.u.Connected() })
	src.Append(200)    // 101..300
	src.DropFront(151) // overflow: 101..150 gone
	src.Skip(7)        // 301..307 lost before commit
	src.Append(20)     // 308..327
	if err := h.b.Restart(); err != nil {
		t.Fatal(err)
	}
	h.waitCursor("raw", 327)
	lost := func(s uint64) bool { return (s >= 101 && s <= 150) || (s >= 301 && s <= 307) }
	got := h.check("raw", 327, lost)
	var after []gotBatch
	for _, b := range got {
		if b.FirstSeq > 100 {
			after = append(after, b)
		}
	}
	want := []struct{ first, last, dropped uint64 }{{101, 250, 50}, {251, 327, 7}}
	if len(after) != len(want) {
		t.Fatalf("batches after the outage: %+v", after)
	}
	for i, w := range want {
		if b := after[i]; b.FirstSeq != w.first || b.LastSeq != w.last || b.Dropped != w.dropped {
			t.Errorf("batch %d: %d..%d dropped %d, want %d..%d dropped %d", i, b.FirstSeq, b.LastSeq, b.Dropped, w.first, w.last, w.dropped)
		}
	}
	if d := h.u.Stats().Streams[0].Dropped; d != 57 {
		t.Errorf("stats dropped = %d, want 57", d)
	}
}

// Two streams with their own cursors, periods and globs: a filtered stream
// accounts for unmatched ranges and still announces drops in them.
func TestStreamsIndependentAndFiltered(t *testing.T) {
	src := newMemSource(1)
	add := func(names ...string) {
		for _, n := range names {
			src.AppendNamed(n)
		}
		src.Append(0) // signal the commit
	}
	add("battery.voltage", "pv.power", "battery.current", "pv.power")
	h := newHarness(t, src, []StreamConfig{
		streamCfg("raw", 0, 100),
		streamCfg("batt", time.Hour, 100, "battery.*", "grid.?"),
	}, nil)
	h.run()
	h.waitCursor("raw", 4)
	h.waitCursor("batt", 4)

	add("pv.power", "battery.voltage", "grid.1", "grid.10") // 5..8
	h.waitCursor("raw", 8)
	if c := src.Cursor("batt"); c != 4 {
		t.Fatalf("hourly stream moved to %d with the raw stream", c)
	}
	h.u.Flush()
	h.waitCursor("batt", 8)

	add("pv.power", "pv.power") // 9..10: nothing for batt
	h.u.Flush()
	h.waitCursor("batt", 10)
	add("battery.voltage") // 11
	h.u.Flush()
	h.waitCursor("batt", 11)

	add("pv.power", "pv.power") // 12..13, then lost to overflow
	h.waitCursor("raw", 13)
	src.DropFront(14)
	add("pv.power") // 14
	h.u.Flush()
	h.waitCursor("batt", 14)

	type b struct {
		first, last, dropped uint64
		seqs                 []uint64
	}
	want := []b{{1, 4, 0, []uint64{1, 3}}, {5, 8, 0, []uint64{6, 7}}, {9, 11, 0, []uint64{11}}, {12, 14, 2, nil}}
	waitFor(t, "the last batt batch", func() bool { return len(h.col.get("batt")) >= len(want) })
	got := h.col.get("batt")
	if len(got) != len(want) {
		t.Fatalf("batt batches: %+v", got)
	}
	for i, w := range want {
		g := got[i]
		var seqs []uint64
		for _, r := range g.Readings {
			seqs = append(seqs, r.Seq)
		}
		if g.FirstSeq != w.first || g.LastSeq != w.last || g.Dropped != w.dropped || !slices.Equal(seqs, w.seqs) || g.Count != len(w.seqs) {
			t.Errorf("batt batch %d: %d..%d dropped %d seqs %v, want %d..%d dropped %d seqs %v",
				i, g.FirstSeq, g.LastSeq, g.Dropped, seqs, w.first, w.last, w.dropped, w.seqs)
		}
	}
	h.check("raw", 14, func(s uint64) bool { return false })
}

// fakeToken is a token the fault-injecting client completes itself.
type fakeToken struct {
	done chan struct{}
	err  error
}

func (f *fakeToken) Wait() bool { <-f.done; return true }
func (f *fakeToken) WaitTimeout(d time.Duration) bool {
	select {
	case <-f.done:
		return true
	case <-time.After(d):
		return false
	}
}
func (f *fakeToken) Done() <-chan struct{} { return f.done }
func (f *fakeToken) Error() error          { return f.err }

// faultyClient wraps paho: data publish number failAt (counted over all
// connections) reports an error without being sent, and number hangAt is
// sent but its PUBACK is never reported.
type faultyClient struct {
	Client
	n              *atomic.Int64
	failAt, hangAt int64
}

func (f faultyClient) Publish(topic string, qos byte, retained bool, payload any) mqtt.Token {
	if len(topic) > len(dataPrefix) && topic[:len(dataPrefix)] == dataPrefix {
		switch f.n.Add(1) {
		case f.failAt:
			t := &fakeToken{done: make(chan struct{}), err: errInjected}
			close(t.done)
			return t
		case f.hangAt:
			f.Client.Publish(topic, qos, retained, payload)
			return &fakeToken{done: make(chan struct{})}
		}
	}
	return f.Client.Publish(topic, qos, retained, payload)
}

var errInjected = errorString("injected publish failure")

type errorString string

func (e errorString) Error() string { return string(e) }

// A publish error and a lost PUBACK both end the session; the stream
// resends from its cursor and nothing is lost or reordered.
func TestPublishFaultsResendFromCursor(t *testing.T) {
	src := newMemSource(5)
	src.Append(2000)
	var n atomic.Int64
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, func(c *MQTTConfig, o *Options) {
		c.PublishTimeout = config.D(time.Second)
		o.NewClient = func(opts *mqtt.ClientOptions) Client {
			return faultyClient{Client: mqtt.NewClient(opts), n: &n, failAt: 5, hangAt: 12}
		}
	})
	h.run()
	h.waitCursor("raw", 2000)
	h.check("raw", 2000, nil)
	st := h.u.Stats()
	if st.Connects < 3 {
		t.Errorf("%d connects; each fault should have cost a reconnect", st.Connects)
	}
	if st.Streams[0].Resends == 0 {
		t.Error("no resend recorded")
	}
}

// The link dies with a batch on the wire in the middle of a full window.
func TestConnectionDropMidWindow(t *testing.T) {
	src := newMemSource(5)
	src.Append(3000)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, func(c *MQTTConfig, _ *Options) { c.Inflight = 8 })
	h.b.DropOnPublish(dataPrefix, 10)
	h.run()
	h.waitCursor("raw", 3000)
	h.check("raw", 3000, nil)
	if st := h.u.Stats(); st.Disconnects < 1 {
		t.Errorf("no disconnect recorded: %+v", st)
	}
}
