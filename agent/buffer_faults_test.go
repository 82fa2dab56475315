package agent

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// retainedStatus returns the retained status document once it is online.
func retainedStatus(t *testing.T, broker *testbroker.Broker) map[string]any {
	t.Helper()
	var doc map[string]any
	waitFor(t, "the retained status", 20*time.Second, func() bool {
		b, ok := broker.Retained("karana/pipe/status")
		return ok && json.Unmarshal(b, &doc) == nil && doc["state"] == "online"
	})
	return doc
}

// Issue 11 item 8: a buffer file found unusable at start is moved aside
// and numbering resumes at the .seq reservation; every stream announces
// the jump in `dropped` (the contract: every hole is announced), and the
// status document says what happened.
func TestBufferLossIsAnnouncedAndReported(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &batchLog{}
	broker.Subscribe("karana/pipe/data/raw", got.add)

	dir := t.TempDir()
	path := filepath.Join(dir, BufferFile)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The reservation of a box that had numbered readings up to ~70000.
	if err := os.WriteFile(path+".seq", []byte("70000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	stop := startAgent(t, cfg)
	defer stop()
	waitFor(t, "a batch with readings", 30*time.Second, func() bool {
		for _, b := range got.snapshot() {
			if len(b.Readings) > 0 {
				return true
			}
		}
		return false
	})
	var first jsonBatch
	for _, b := range got.snapshot() {
		if len(b.Readings) > 0 {
			first = b
			break
		}
	}
	if first.Readings[0].Seq < 70000 {
		t.Errorf("seqs resumed at %d, below the reservation 70000", first.Readings[0].Seq)
	}
	if first.Dropped == 0 || first.FirstSeq+first.Dropped != first.Readings[0].Seq {
		t.Errorf("first batch after the loss: first_seq %d, dropped %d, first reading %d; want the jump to the first reading announced",
			first.FirstSeq, first.Dropped, first.Readings[0].Seq)
	}
	doc := retainedStatus(t, broker)
	from, _ := doc["buffer_recovered_from"].(string)
	if !strings.HasPrefix(from, path+".corrupt-") || doc["buffer_recovered_at"] == nil || doc["buffer_seq_jump"] == nil {
		t.Errorf("status does not report the recovery: %v", doc)
	}
}

// remount remounts the tmpfs at dir read-only or read-write.
func remount(t *testing.T, dir string, ro bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, ""); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", dir, ro, err)
	}
}

// Issue 11 item 9: a data directory on a file system gone read-only (a
// worn SD card) must not stop the box: it starts, delivers the backlog the
// buffer holds, samples into memory, and says so in the status.
func TestReadOnlyDataDirStartsAndDelivers(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); buffer's TestReadOnlyDataDirAtStart covers the logic", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })

	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &batchLog{}
	broker.Subscribe("karana/pipe/data/raw", got.add)
	broker.Stop() // a backlog builds up while the link is down
	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	stop := startAgent(t, cfg)
	waitFor(t, "a backlog", 30*time.Second, func() bool {
		st, err := BufferStats(cfg)
		return err == nil && st.LastSeq > 500
	})
	stop()
	ro, err := buffer.OpenReadOnly(filepath.Join(dir, BufferFile), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, backlog := ro.Bounds()
	ro.Close()
	remount(t, dir, true)
	defer remount(t, dir, false)

	if err := broker.Restart(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatalf("the daemon refused to start on a read-only data directory: %v", err)
	}
	stop = runAgent(t, a)
	defer stop()
	waitFor(t, "the backlog delivered", 30*time.Second, func() bool {
		var n uint64
		for _, b := range got.snapshot() {
			n = max(n, b.LastSeq)
		}
		return n >= backlog
	})
	for _, b := range got.snapshot() {
		for _, r := range b.Readings {
			if r.Seq > backlog {
				t.Fatalf("reading seq %d published while the buffer is read-only (the file ends at %d): a seq the file never committed", r.Seq, backlog)
			}
		}
	}
	doc := retainedStatus(t, broker)
	if doc["buffer_read_only"] != true || doc["buffer_failing_since"] == nil {
		t.Errorf("status does not say the buffer is read-only: %v", doc)
	}
	waitFor(t, "readings waiting in memory", 10*time.Second, func() bool {
		st, err := a.ring.Stats()
		return err == nil && st.Pending > 0
	})
}

func runAgent(t *testing.T, a *Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			// Readings sampled while read-only are lost at a stop: Close says so.
			if err != nil && !errors.Is(err, buffer.ErrDiskReadOnly) {
				t.Errorf("agent.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not stop within 10s of cancel")
		}
	}
}
