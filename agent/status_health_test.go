package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/reading"
)

// TestStatusDigest: the health digest changes with the failing state and
// with any field it does not know (new health fields join by construction),
// never with the counters.
func TestStatusDigest(t *testing.T) {
	healthy := map[string]any{"commit": "abc", "buffer_depth": 10, "buffer_bytes": 4096, "dropped_total": 0,
		"oldest_unsent_age_s": 3, "clock_synced": true, "config_hash": "h1"}
	moved := map[string]any{"commit": "abc", "buffer_depth": 9000, "buffer_bytes": 1 << 20, "dropped_total": 7,
		"oldest_unsent_age_s": 600, "clock_synced": true, "config_hash": "h1"}
	if statusDigest(healthy) != statusDigest(moved) {
		t.Error("the digest moved with the counters")
	}
	failing := map[string]any{"commit": "abc", "buffer_depth": 10, "clock_synced": true, "config_hash": "h1",
		"buffer_failing_since": "2026-11-21T22:00:00Z", "buffer_last_error": "no space left on device", "buffer_pending": 5}
	failingMore := map[string]any{"commit": "abc", "buffer_depth": 10, "clock_synced": true, "config_hash": "h1",
		"buffer_failing_since": "2026-11-21T22:00:00Z", "buffer_last_error": "no space left on device", "buffer_pending": 5000}
	if statusDigest(failing) == statusDigest(healthy) || statusDigest(failing) != statusDigest(failingMore) {
		t.Error("the digest does not tell failing from healthy, or moves with buffer_pending")
	}
	readOnly := map[string]any{"commit": "abc", "clock_synced": true, "config_hash": "h1", "buffer_read_only": true}
	if statusDigest(readOnly) == statusDigest(map[string]any{"commit": "abc", "clock_synced": true, "config_hash": "h1"}) {
		t.Error("a field the digest was not told about is not health")
	}
}

// TestStatusDigestIgnoresCounters: on a running buffer, readings coming in
// move the status document's counters and leave the digest alone, so a
// counter added to status() without being listed in statusCounters fails
// here instead of republishing the document every minute.
func TestStatusDigestIgnoresCounters(t *testing.T) {
	cfg := pipelineConfig(t, t.TempDir(), "127.0.0.1:1", "")
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.ring.Close()
	before, digest := a.status(), a.healthDigest()
	t0 := time.Now().Add(-time.Hour)
	for i := range 2000 {
		a.ring.Append([]reading.Reading{{Name: "s00.value", Time: t0.Add(time.Duration(i) * time.Second), Value: float64(i)}})
	}
	if err := a.ring.Flush(); err != nil {
		t.Fatal(err)
	}
	after := a.status()
	if before["buffer_depth"] == after["buffer_depth"] || before["oldest_unsent_age_s"] == after["oldest_unsent_age_s"] {
		t.Fatalf("the counters did not move: %v then %v", before, after)
	}
	if d := a.healthDigest(); d != digest {
		t.Errorf("the digest moved with the counters:\n%s\n%s", digest, d)
	}
}

// TestStatusRepublishedOnDiskFull fills the data directory's file system
// under a connected daemon: without a reconnect the broker gets a status
// document with buffer_failing_since and buffer_last_error, and once there
// is room again one without them.
func TestStatusRepublishedOnDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); uplink's TestStatusRepublishedOnHealthChange covers the republish", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	var mu sync.Mutex
	var docs []map[string]any
	broker.Subscribe("karana/pipe/status", func(_ string, p []byte) {
		var m map[string]any
		if json.Unmarshal(p, &m) != nil {
			return
		}
		mu.Lock()
		docs = append(docs, m)
		mu.Unlock()
	})
	last := func() (map[string]any, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(docs) == 0 {
			return nil, 0
		}
		return docs[len(docs)-1], len(docs)
	}

	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.up.SetHealthIntervals(20*time.Millisecond, 200*time.Millisecond)
	stop := runAgent(t, a)
	defer stop()
	waitFor(t, "the online status", 20*time.Second, func() bool { d, _ := last(); return d != nil && d["state"] == "online" })

	filler := filepath.Join(dir, "filler")
	fillUp(t, filler)
	waitFor(t, "a status saying the buffer fails", 30*time.Second, func() bool {
		d, _ := last()
		return d["buffer_failing_since"] != nil && d["buffer_last_error"] != nil
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a status after recovery", 30*time.Second, func() bool {
		d, _ := last()
		return d["state"] == "online" && d["buffer_failing_since"] == nil
	})
	if st := a.up.Stats(); st.Connects != 1 || st.Disconnects != 0 {
		t.Errorf("connects %d, disconnects %d: the status must go out on the connection that is up", st.Connects, st.Disconnects)
	}
	// (that each one is counted in the bytes sent is checked exactly by
	// uplink's TestStatusRepublishedOnHealthChange: here data batches flow
	// beside them)
}

// fillUp writes a file until its file system is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			return // ENOSPC
		}
	}
}
