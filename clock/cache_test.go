package clock

import (
	"testing"
	"time"
)

func TestCachedSynced(t *testing.T) {
	calls, state := 0, false
	now := time.Now()
	c := &syncCache{fn: func() bool { calls++; return state }, ttl: time.Second, now: func() time.Time { return now }}
	if c.synced() || calls != 1 {
		t.Fatalf("first call: calls %d", calls)
	}
	state = true
	now = now.Add(999 * time.Millisecond)
	if c.synced() || calls != 1 {
		t.Fatalf("within the ttl the cached answer must hold: calls %d", calls)
	}
	now = now.Add(time.Millisecond)
	if !c.synced() || calls != 2 {
		t.Fatalf("after the ttl the state must be asked again: calls %d", calls)
	}
	// A clock that went backwards (tests that move it) asks again.
	state = false
	now = now.Add(-time.Hour)
	if c.synced() || calls != 3 {
		t.Fatalf("after a backwards step: calls %d", calls)
	}
	f := CachedSynced(func() bool { return true }, time.Minute)
	if !f() {
		t.Fatal("CachedSynced lost the answer")
	}
}
