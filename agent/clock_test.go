package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// TestClockSyncCorrectsThisBoot runs the agent's sync watcher against a
// real buffer with a fake clock: readings taken before the sync come back
// re-stamped from their boot time once the clock syncs, and the watcher
// never holds anything up while it does not.
func TestClockSyncCorrectsThisBoot(t *testing.T) {
	oldS, oldO, oldB, oldP := clockSynced, clockOffset, clockBootID, syncPoll
	t.Cleanup(func() { clockSynced, clockOffset, clockBootID, syncPoll = oldS, oldO, oldB, oldP })
	bootAt := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	stale := bootAt.AddDate(0, 0, -2) // fake-hwclock's saved time
	var synced atomic.Bool
	var off atomic.Int64
	off.Store(stale.UnixNano())
	clockSynced = synced.Load
	clockOffset = func() (time.Duration, bool) { return time.Duration(off.Load()), true }
	clockBootID = func() string { return "boot-1" }
	syncPoll = time.Millisecond

	ring, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"),
		buffer.Config{MaxBytes: config.Size(4 << 20), CommitInterval: config.D(10 * time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	ring.SetClock(ringClock())

	since := 30 * time.Second // boot time of the reading
	ring.Append([]reading.Reading{{Name: "a.v", Time: stale.Add(since), Value: 1, Flags: reading.ClockUnsynced}})
	if err := ring.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); watchClock(ctx, ring, slog.New(slog.DiscardHandler)) }()

	// NTP steps the clock to the truth.
	off.Store(bootAt.UnixNano())
	synced.Store(true)
	var got reading.Reading
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if err := ring.Flush(); err != nil {
			t.Fatal(err)
		}
		rs, err := ring.Read(0, 10)
		if err != nil || len(rs) != 1 {
			t.Fatalf("read: %v, %d readings", err, len(rs))
		}
		if got = rs[0]; got.Flags&reading.ClockCorrected != 0 {
			break
		}
	}
	cancel()
	<-done
	if got.Flags != reading.ClockCorrected || !got.Time.Equal(bootAt.Add(since)) {
		t.Errorf("after sync: %s flags %b, want %s ClockCorrected", got.Time, got.Flags, bootAt.Add(since))
	}
}

// TestStartupNeverWaitsForSync: an offline site whose clock never syncs
// samples and buffers from the start, every reading flagged.
func TestStartupNeverWaitsForSync(t *testing.T) {
	oldS := clockSynced
	t.Cleanup(func() { clockSynced = oldS })
	clockSynced = func() bool { return false }

	dir := t.TempDir()
	cfg := pipelineConfig(t, dir, "127.0.0.1:1", "")
	stop := startAgent(t, cfg)
	waitFor(t, "readings buffered with the clock never synced", 30*time.Second, func() bool {
		st, err := BufferStats(cfg)
		return err == nil && st.LastSeq >= 50
	})
	stop()
	ring, err := buffer.OpenReadOnly(filepath.Join(dir, BufferFile), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	rs, err := ring.Read(0, 1000)
	if err != nil || len(rs) == 0 {
		t.Fatalf("read: %v, %d readings", err, len(rs))
	}
	for _, r := range rs {
		if r.Flags&reading.ClockUnsynced == 0 {
			t.Fatalf("%s seq %d: flags %b, want ClockUnsynced", r.Name, r.Seq, r.Flags)
		}
	}
}
