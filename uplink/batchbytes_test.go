package uplink

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func decodeRaw(t *testing.T, payloads [][]byte) ([]gotBatch, int) {
	t.Helper()
	var out []gotBatch
	biggest := 0
	for _, p := range payloads {
		var b gotBatch
		if err := json.Unmarshal(p, &b); err != nil {
			t.Fatalf("batch %s: %v", p, err)
		}
		out = append(out, b)
		biggest = max(biggest, len(p))
	}
	return out, biggest
}

// TestMaxBatchBytes splits a backlog into payloads under the bound, with
// every reading delivered.
func TestMaxBatchBytes(t *testing.T) {
	src := newMemSource(4)
	src.Append(3000)
	src.Skip(3)
	src.Append(100)
	sc := streamCfg("raw", 0, 1000)
	sc.MaxBatchBytes = 4 << 10
	u, col := runFormatStreams(t, src, []StreamConfig{sc})
	last := src.Last()
	waitFor(t, "the backlog sent", func() bool { return src.Cursor("raw") >= last })
	topic := "karana/" + dev + "/data/raw"
	waitFor(t, "the last batch", func() bool {
		bs, _ := decodeRaw(t, col.payloads(topic))
		return len(bs) > 0 && bs[len(bs)-1].LastSeq == last
	})
	bs, biggest := decodeRaw(t, col.payloads(topic))
	if biggest > 4<<10 {
		t.Errorf("a payload of %d bytes, over max_batch_bytes 4096", biggest)
	}
	checkDelivery(t, bs, 1, last, func(s uint64) bool { return s > 3000 && s <= 3003 })
	if u.streams[0].splits.Load() == 0 {
		t.Error("no batch was split")
	}
	t.Logf("%d batches, biggest %d bytes", len(bs), biggest)
}

// TestMaxBatchBytesSingleReading publishes a reading that alone exceeds
// the bound rather than losing it.
func TestMaxBatchBytesSingleReading(t *testing.T) {
	src := newMemSource(2)
	src.Append(20)
	sc := streamCfg("raw", 0, 1000)
	sc.MaxBatchBytes = 1 << 10
	sc.Tags = map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		sc.Tags[k] = strings.Repeat(k, 250) // the header alone is over 1 KiB
	}
	_, col := runFormatStreams(t, src, []StreamConfig{sc})
	waitFor(t, "all sent", func() bool { return src.Cursor("raw") >= 20 })
	topic := "karana/" + dev + "/data/raw"
	waitFor(t, "the last batch", func() bool {
		bs, _ := decodeRaw(t, col.payloads(topic))
		return len(bs) > 0 && bs[len(bs)-1].LastSeq == 20
	})
	bs, _ := decodeRaw(t, col.payloads(topic))
	checkDelivery(t, bs, 1, 20, nil)
	for i, b := range bs {
		if len(b.Readings) != 1 {
			t.Errorf("batch %d: %d readings, want 1 (split down to single readings)", i, len(b.Readings))
		}
	}
}

// TestMaxBatchBytesAggregate splits an aggregate backlog on window
// boundaries.
func TestMaxBatchBytesAggregate(t *testing.T) {
	src := newMemSource(1)
	for i := range 600 {
		at := src.t0.Add(time.Duration(i) * 10 * time.Second)
		for _, n := range []string{"a.v", "b.v", "c.v", "d.v"} {
			appendAt(src, n, at, float64(i), 0)
		}
	}
	sc := aggStream("agg", time.Minute, 5000, nil)
	sc.MaxBatchBytes = config.Size(3 << 10)
	_, col := runFormatStreams(t, src, []StreamConfig{sc})
	topic := "karana/" + dev + "/data/agg"
	want := uint64(99 * 6 * 4) // windows 0..98 complete: 6 readings x 4 series each
	waitFor(t, "the backlog aggregated", func() bool { return src.Cursor("agg") >= want })
	waitFor(t, "the last batch", func() bool {
		ds := decodeAgg(t, col.payloads(topic))
		return len(ds) > 0 && ds[len(ds)-1].LastSeq == want
	})
	ps := col.payloads(topic)
	docs := decodeAgg(t, ps)
	seen := map[aggID]bool{}
	for i, d := range docs {
		if len(ps[i]) > 3<<10 {
			t.Errorf("batch %d: %d bytes over 3 KiB", i, len(ps[i]))
		}
		for _, r := range d.Readings {
			id := aggID{r.Name, r.TS}
			if seen[id] {
				t.Errorf("%s at %s twice", r.Name, r.TS)
			}
			seen[id] = true
		}
	}
	if len(seen) != 99*4*5 {
		t.Errorf("%d aggregates, want %d", len(seen), 99*4*5)
	}
}
