package buffer

import (
	"context"
	"testing"
)

// Issue 12: a stream with period 0 subscribes each time it starts, and
// in-place reconfiguration restarts streams (uplink/reconfigure.go). Every
// cycle of subscribing and letting go must leave nothing behind, and a
// stream still subscribed must still be signalled.
func TestSubscribeCyclesLeaveNoSubscriber(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	live := r.Subscribe()
	const cycles = 1000
	for range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		_ = r.SubscribeCtx(ctx)
		cancel() // the stream's context ends with the stream
		r.Unsubscribe(r.Subscribe())
	}
	r.Append(gen(0, 3, 1))
	mustFlush(t, r) // a commit with readings: every subscriber is visited
	if n := subscriberCount(r); n != 1 {
		t.Errorf("after %d subscribe/cancel and %d subscribe/Unsubscribe cycles the ring holds %d subscribers, want 1 (the live one)", cycles, cycles, n)
	}
	select {
	case <-live:
	default:
		t.Error("the subscriber still subscribed was not signalled")
	}

	// A SubscribeCtx whose context is live is signalled like any other.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := r.SubscribeCtx(ctx)
	r.Append(gen(3, 3, 1))
	mustFlush(t, r)
	select {
	case <-ch:
	default:
		t.Error("a SubscribeCtx subscriber with a live context was not signalled")
	}
}

func subscriberCount(r *Ring) int {
	r.subs.mu.Lock()
	defer r.subs.mu.Unlock()
	return len(r.subs.list)
}
