package uplink

import (
	"testing"
	"time"
)

// TestReconfigureInPlace: re-tuning, adding and removing streams while
// readings flow keeps the one MQTT connection, loses no reading of a stream
// that stays, and leaves an unchanged stream's goroutine alone.
func TestReconfigureInPlace(t *testing.T) {
	src := newMemSource(4)
	src.Append(2000)
	raw := streamCfg("raw", 20*time.Millisecond, 100)
	keep := streamCfg("keep", 20*time.Millisecond, 100)
	h := newHarness(t, src, []StreamConfig{raw, keep}, nil)
	h.run()
	waitFor(t, "connect", h.u.Connected)
	h.waitCursor("raw", 2000)
	kept := h.u.list()[1]

	stop := sampler(src, 5, 5*time.Millisecond)
	for i := range 10 {
		raw.MaxBatch = 50 + i // a change: raw restarts each time
		extra := streamCfg("extra", 30*time.Millisecond, 1000)
		cfgs := []StreamConfig{raw, keep}
		if i%2 == 0 {
			cfgs = append(cfgs, extra) // added, then removed again
		}
		if err := h.u.Reconfigure(cfgs); err != nil {
			t.Fatalf("Reconfigure %d: %v", i, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	stop()
	last := src.Last()
	h.waitCursor("raw", last)
	h.waitCursor("keep", last)
	h.check("raw", last, nil)
	h.check("keep", last, nil)

	if got := h.u.list(); len(got) != 2 || got[1] != kept {
		t.Errorf("the unchanged stream was replaced")
	}
	if st := h.u.Stats(); st.Connects != 1 || st.Disconnects != 0 {
		t.Errorf("connects %d, disconnects %d across the reconfigurations; want 1, 0", st.Connects, st.Disconnects)
	}
	if st := h.u.Stats(); st.Streams[0].Batches < uint64(len(h.col.get("raw")))/2 {
		t.Errorf("raw's batch counter %d was not carried over (%d batches received)", st.Streams[0].Batches, len(h.col.get("raw")))
	}
	// an invalid set changes nothing
	if err := h.u.Reconfigure([]StreamConfig{raw, raw}); err == nil {
		t.Error("duplicate stream names accepted")
	}
	if got := h.u.list(); len(got) != 2 || got[1] != kept {
		t.Errorf("a refused reconfiguration changed the streams")
	}
}
