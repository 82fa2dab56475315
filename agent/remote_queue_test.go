package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/remote"
)

// idleAgent is a built agent that is not running: no broker, so every
// config/result stays in the result queue, in order, for the test to read.
func idleAgent(t *testing.T) *Agent {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(file, []byte(localFile(dir, "tcp://127.0.0.1:1", "")), 0o600))
	cfg, err := LoadEffective(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ring.Close() })
	return a
}

func (a *Agent) pendingResults() []SetResult {
	a.results.mu.Lock()
	defer a.results.mu.Unlock()
	return append([]SetResult(nil), a.results.pending...)
}

// drain handles every queued message, as the worker does.
func (a *Agent) drain(ctx context.Context) {
	q := a.inboundQueue()
	for {
		m, ok := q.pop()
		if !ok {
			return
		}
		a.handleInbound(ctx, m)
	}
}

// TestInboundQueueBounds: a payload over the size limit and messages past
// the queue's bound are refused unread, yet each gets its one result, in
// arrival order; only a flood beyond the refusals' bound is dropped.
func TestInboundQueueBounds(t *testing.T) {
	a := idleAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setTopic := a.Config().Topic("config", "set")
	stream := func(v int) []byte {
		return fmt.Appendf(nil, "version = %d\n[[stream]]\nname = \"raw\"\nperiod = \"%dms\"\n", v, 100+v)
	}
	// before any worker runs, as at start
	a.inbound(setTopic, append([]byte("version = 1000\n#"), make([]byte, remote.MaxDocument)...))
	for v := 1; v <= maxQueued+3; v++ {
		a.inbound(setTopic, stream(v))
	}
	a.inbound(a.Config().Topic("cmd", "ping"), []byte(strings.Repeat(" ", MaxCommand+1)))
	a.drain(ctx)

	res := a.pendingResults()
	if len(res) != maxQueued+4 {
		t.Fatalf("%d results for %d config/set messages", len(res), maxQueued+4)
	}
	if r := res[0]; r.Version != 1000 || r.Status != StatusRejected || !strings.Contains(r.Errors[0].Message, fmt.Sprint(remote.MaxDocument)) {
		t.Errorf("oversize document: %+v, want version 1000 rejected naming the size limit", r)
	}
	for i, r := range res[1:] {
		v := int64(i + 1)
		want := StatusApplied
		if v > maxQueued {
			want = StatusRejected
		}
		if r.Version != v || r.Status != want {
			t.Errorf("result %d: %+v, want version %d %s", i+1, r, v, want)
		}
		if want == StatusRejected && !strings.Contains(r.Errors[0].Message, fmt.Sprintf("queue limit is %d", maxQueued)) {
			t.Errorf("queue full: %+v, want the queue limit named", r)
		}
	}
	if got := a.Config().Streams[0].Period.Duration; got != time.Duration(100+maxQueued)*time.Millisecond {
		t.Errorf("period %s: the last queued set was not the last applied", got)
	}

	// a flood: refusals beyond their bound are dropped, and counted
	q := a.inboundQueue()
	for range maxQueued {
		q.push(setTopic, stream(1), int64(len(stream(1))), remote.MaxDocument, true)
	}
	dropped := 0
	for range maxRefusals + 5 {
		if !q.push(setTopic, stream(1), int64(len(stream(1))), remote.MaxDocument, true) {
			dropped++
		}
	}
	if dropped != 5 || q.dropped != 5 {
		t.Errorf("%d pushes dropped (counted %d), want 5", dropped, q.dropped)
	}
}

// TestRemoteSetsSurviveReconnect: sets already received when one of them
// reconnects the uplink ([mqtt] changed) are all handled, and answered on
// the new connection, in order.
func TestRemoteSetsSurviveReconnect(t *testing.T) {
	r := newRemoteRig(t, `allow = ["sensor", "stream", "mqtt"]`)
	_, _, before := r.a.parts()
	setTopic := r.a.Config().Topic("config", "set")
	broker := r.a.Config().MQTT.Broker
	r.a.inbound(setTopic, fmt.Appendf(nil, "version = 1\n[mqtt]\nbroker = %q\nkeepalive = \"45s\"\nreconnect_min = \"100ms\"\nreconnect_max = \"300ms\"\n", broker))
	for v := 2; v <= 5; v++ {
		r.a.inbound(setTopic, fmt.Appendf(nil, "version = %d\n[[stream]]\nname = \"raw\"\nperiod = \"%dms\"\n", v, 100+v))
	}
	r.waitFor("5 results", func() bool { return len(r.allResults()) >= 5 })
	for i, res := range r.allResults() {
		if res.Version != int64(i+1) || res.Status != StatusApplied {
			t.Errorf("result %d: %+v, want version %d applied", i, res, i+1)
		}
	}
	if _, _, after := r.a.parts(); after == before {
		t.Error("the [mqtt] change did not reconnect on a new uplink")
	}
}

// TestRemoteSetHugePayload: a config/set far over the size limit (the
// broker lets up to 256 MiB through by default) is answered "rejected",
// naming the limit and its version, and the box goes on taking documents.
func TestRemoteSetHugePayload(t *testing.T) {
	r := newRemoteRig(t, "")
	res := r.set("version = 9\n[log]\n#" + strings.Repeat("x", 16<<20) + "\n")
	if res.Status != StatusRejected || res.Version != 9 || len(res.Errors) != 1 ||
		!strings.Contains(res.Errors[0].Message, fmt.Sprintf("size limit is %d", remote.MaxDocument)) {
		t.Errorf("16 MiB document: %+v", res)
	}
	if res := r.set(string(setDoc(10))); res.Status != StatusApplied {
		t.Errorf("the next document: %+v", res)
	}
}
