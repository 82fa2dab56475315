package uplink

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/packed"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// thinnedRing fills a real ring during an outage (its streams never
// acknowledge) until it thins, and checks that it did not drop.
func thinnedRing(t *testing.T, streams ...string) (*buffer.Ring, uint64) {
	t.Helper()
	cfg := buffer.DefaultConfig()
	cfg.MaxBytes = buffer.MinMaxBytes
	cfg.ThinAt = 0.5
	r, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.SetStreams(streams)
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	k := 0
	for c := 0; c < 200; c++ {
		rs := make([]reading.Reading, 400)
		for i := range rs {
			rs[i] = reading.Reading{
				Name: fmt.Sprintf("inv%d.power", k%4), Unit: "W",
				Time:  t0.Add(time.Duration(k/4) * time.Second).Add(time.Duration(k%4) * time.Millisecond),
				Value: float64(k%977) * 1.37,
			}
			k++
		}
		r.Append(rs)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		if st, _ := r.Stats(); st.Thinnings > 3 {
			break
		}
	}
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Thinnings == 0 || st.DroppedTotal != 0 {
		t.Fatalf("ring of %d readings: %d thinnings, %d dropped; want thinning and no drop", k, st.Thinnings, st.DroppedTotal)
	}
	return r, st.LastSeq
}

type thinBatch struct {
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Count    int    `json:"count"`
	Dropped  uint64 `json:"dropped"`
	Thinned  uint64 `json:"thinned"`
}

// TestThinnedBatches streams a thinned ring: batches over the thinned range
// announce "thinned" and report nothing dropped, raw and aggregate streams
// alike, and the range is covered without a gap.
func TestThinnedBatches(t *testing.T) {
	raw := streamCfg("raw", 10*time.Millisecond, 500)
	agg := streamCfg("agg", 10*time.Millisecond, 500)
	agg.Aggregate = config.D(time.Minute)
	r, last := thinnedRing(t, "raw", "agg")

	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	col := &rawCollector{got: map[string][][]byte{}}
	if err := b.Subscribe("karana/"+dev+"/data/#", col.add); err != nil {
		t.Fatal(err)
	}
	u, err := New(testConfig(b.URL()), []StreamConfig{raw, agg}, r, Options{DeviceID: dev, Version: "test", Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "raw to deliver everything", func() bool { return r.Cursor("raw") >= last })
	for _, stream := range []string{"raw", "agg"} {
		var thinned uint64
		next := uint64(1)
		waitFor(t, stream+" batches", func() bool { return len(col.payloads("karana/"+dev+"/data/"+stream)) > 0 })
		for _, p := range col.payloads("karana/" + dev + "/data/" + stream) {
			var tb thinBatch
			if err := json.Unmarshal(p, &tb); err != nil {
				t.Fatal(err)
			}
			if tb.FirstSeq != next || tb.Dropped != 0 {
				t.Fatalf("%s batch %+v: want first_seq %d, dropped 0", stream, tb, next)
			}
			if strings.Contains(string(p), `"thinned":0`) {
				t.Fatalf("%s: thinned:0 written", stream)
			}
			next = tb.LastSeq + 1
			thinned += tb.Thinned
		}
		if thinned == 0 {
			t.Fatalf("%s: no batch announced thinned readings", stream)
		}
		t.Logf("%s: covered 1..%d, %d thinned readings announced", stream, next-1, thinned)
	}
}

// TestThinGapClamp: a stream that had read into a thinned range counts only
// the part of the gap at or after its position; non-thinned _count
// readings (a series of that name) never count.
func TestThinGapClamp(t *testing.T) {
	c := reading.Reading{Seq: 100, Name: "a_count", Value: 60, Flags: reading.Thinned}
	if g := thinGap(&c, 1); g != 56 {
		t.Fatalf("gap %d, want 56", g)
	}
	if g := thinGap(&c, 90); g != 10 {
		t.Fatalf("clamped gap %d, want 10", g)
	}
	c.Flags = 0
	if g := thinGap(&c, 1); g != 0 {
		t.Fatalf("unflagged gap %d", g)
	}
}

// TestThinnedFlagPacked: the packed format carries the new flag bit.
func TestThinnedFlagPacked(t *testing.T) {
	b := &format.Batch{Device: dev, Stream: "raw", FirstSeq: 1, LastSeq: 60, Thinned: 1, Readings: []reading.Reading{
		{Seq: 60, Name: "a_count", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Value: 60, Flags: reading.Thinned | reading.ClockCorrected},
	}}
	p, err := format.Packed{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := packed.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Readings) != 1 || got.Readings[0].Flags != reading.Thinned|reading.ClockCorrected {
		t.Fatalf("decoded %+v", got.Readings)
	}
}
