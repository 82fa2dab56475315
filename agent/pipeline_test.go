package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/internal/testbroker"

	_ "github.com/karana-energy/karana-edge/sensors/sim"
	_ "github.com/karana-energy/karana-edge/uplink/format"
)

// batchLog records the json batches the broker delivered.
type batchLog struct {
	mu      sync.Mutex
	batches []jsonBatch
}

type jsonBatch struct {
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

func (l *batchLog) add(_ string, payload []byte) {
	var b jsonBatch
	if err := json.Unmarshal(payload, &b); err != nil {
		return
	}
	l.mu.Lock()
	l.batches = append(l.batches, b)
	l.mu.Unlock()
}

func (l *batchLog) snapshot() []jsonBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]jsonBatch(nil), l.batches...)
}

func pipelineConfig(t *testing.T, dir, broker, extra string) *Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[device]\nid = \"pipe\"\ndata_dir = %q\n[buffer]\ncommit_interval = \"50ms\"\n%s\n", dir, extra)
	fmt.Fprintf(&b, "[mqtt]\nbroker = \"tcp://%s\"\nreconnect_min = \"100ms\"\nreconnect_max = \"300ms\"\n", broker)
	fmt.Fprintf(&b, "[[stream]]\nname = \"raw\"\nperiod = \"100ms\"\nmax_batch = 500\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "[[sensor]]\nname = \"s%02d\"\ndriver = \"sim\"\nwaveform = \"random-walk\"\nnoise = 3\ninterval = \"10ms\"\n", i)
	}
	cfg, err := ParseConfig("pipeline.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startAgent(t *testing.T, cfg *Config) (stop func()) {
	t.Helper()
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not stop within 10s of cancel")
		}
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOverflowDuringOutage: a buffer too small for the outage drops the
// oldest readings, counts them exactly, announces them in `dropped`, and the
// box keeps running and delivering.
func TestOverflowDuringOutage(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &batchLog{}
	broker.Subscribe("karana/pipe/data/raw", got.add)
	broker.Stop() // the link is down from the start

	dir := t.TempDir()
	cfg := pipelineConfig(t, dir, broker.Addr(), `max_bytes = "256KiB"`)
	stop := startAgent(t, cfg)

	// 20 sensors at 10 ms is ~2000 readings/s: well past a 256 KiB ring's
	// budget within the outage.
	ringStats := func() buffer.Stats {
		st, err := BufferStats(cfg)
		if err != nil {
			t.Logf("stats: %v", err) // the socket may not be up yet
		}
		return st
	}
	waitFor(t, "the ring to overflow", 60*time.Second, func() bool { return ringStats().DroppedTotal > 1000 })

	if err := broker.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog to drain", 60*time.Second, func() bool {
		st := ringStats()
		return st.LastSeq > 0 && st.Cursors["raw"] >= st.LastSeq-100
	})
	stop()

	ring, err := buffer.OpenReadOnly(filepath.Join(dir, BufferFile), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	final, _ := ring.Stats()
	ring.Close()

	batches := got.snapshot()
	if len(batches) == 0 {
		t.Fatal("nothing delivered after the link came back")
	}
	// Walk the delivered ranges: every seq up to the cursor is either
	// delivered or announced as dropped, exactly once.
	var announced, delivered uint64
	next := uint64(1)
	for _, b := range batches {
		if b.FirstSeq < next { // a resend after a reconnect
			continue
		}
		expected := next
		var holes uint64
		for _, r := range b.Readings {
			holes += r.Seq - expected
			expected = r.Seq + 1
		}
		if holes != b.Dropped {
			t.Errorf("batch %d..%d: %d seqs missing but dropped=%d", b.FirstSeq, b.LastSeq, holes, b.Dropped)
		}
		announced += b.Dropped
		delivered += uint64(len(b.Readings))
		next = b.LastSeq + 1
	}
	if announced == 0 {
		t.Fatal("the overflow was never announced in dropped")
	}
	if announced+delivered != next-1 {
		t.Errorf("announced %d + delivered %d != %d seqs covered", announced, delivered, next-1)
	}
	// The ring counts every reading it deletes before the slowest stream
	// acknowledged it; a stream that had already read (and then delivered)
	// some of them in its in-flight window rightly does not announce those.
	// So the announcement is exact per stream (checked above) and bounded by
	// the ring's count.
	if announced > final.DroppedTotal {
		t.Errorf("announced %d dropped but the buffer counted only %d", announced, final.DroppedTotal)
	}
	if final.FileBytes > int64(cfg.Buffer.MaxBytes) {
		t.Errorf("buffer file %d bytes exceeds max_bytes %d", final.FileBytes, cfg.Buffer.MaxBytes)
	}
	t.Logf("announced %d dropped, delivered %d, buffer dropped_total %d, file %d bytes", announced, delivered, final.DroppedTotal, final.FileBytes)
}

// TestCorruptBufferAtStart: garbage in the buffer file is moved aside, a
// fresh ring is created and the daemon samples and delivers.
func TestCorruptBufferAtStart(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &batchLog{}
	broker.Subscribe("karana/pipe/data/raw", got.add)

	dir := t.TempDir()
	garbage := []byte(strings.Repeat("this is not a bbolt file\n", 2000))
	if err := os.WriteFile(filepath.Join(dir, BufferFile), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	stop := startAgent(t, cfg)
	waitFor(t, "delivery after recovery", 30*time.Second, func() bool { return len(got.snapshot()) > 2 })
	st, err := BufferStats(cfg)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if st.RecoveredFrom == "" {
		t.Error("stats do not say the buffer was recovered")
	}
	aside, _ := filepath.Glob(filepath.Join(dir, BufferFile+".corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("want the corrupt file moved aside once, found %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); string(b) != string(garbage) {
		t.Error("the moved-aside file is not the original bytes")
	}
}

// TestStatsAndExportWhileRunning: the CLI's stats and export reach a running
// daemon over the control socket (bbolt's writer lock keeps the file shut).
func TestStatsAndExportWhileRunning(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	dir := t.TempDir()
	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	stop := startAgent(t, cfg)
	defer stop()
	waitFor(t, "readings committed", 20*time.Second, func() bool {
		st, err := BufferStats(cfg)
		return err == nil && st.LastSeq >= 50
	})
	// Delivered readings are pruned, so export what the ring holds now.
	broker.Stop()
	var st buffer.Stats
	waitFor(t, "a backlog", 20*time.Second, func() bool {
		st, err = BufferStats(cfg)
		return err == nil && st.Readings >= 20
	})
	var out strings.Builder
	if err := BufferExport(cfg, &out, "csv", st.FirstSeq, st.FirstSeq+9); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[0], "seq,name,ts,value,unit") {
		t.Fatalf("csv export while running: want a header and 10 rows, got %q", out.String())
	}
	if want := fmt.Sprintf("%d,s", st.FirstSeq); !strings.HasPrefix(lines[1], want) {
		t.Errorf("first exported row should start %q, got %q", want, lines[1])
	}
}

// The retained status names the config the box runs, with the same hash as
// config/state, so a fleet view can tell which boxes took a new config.
func TestStatusCarriesConfigHash(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	cfg := pipelineConfig(t, t.TempDir(), broker.Addr(), "")
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var doc map[string]any
	waitFor(t, "the retained status", 20*time.Second, func() bool {
		b, ok := broker.Retained("karana/pipe/status")
		return ok && json.Unmarshal(b, &doc) == nil && doc["state"] == "online"
	})
	if want := a.State().Hash; doc["config_hash"] != want || len(want) != 64 {
		t.Errorf("status config_hash %v, want %q", doc["config_hash"], want)
	}
}
