package buffer

import (
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Kept delivered readings are live data for compaction's 4x rule: a file
// holding a kept day is not compacted as "mostly free"; once the day has
// aged out and is pruned, the file is.
func TestKeepCountsAsLiveForCompaction(t *testing.T) {
	path := dbPath(t)
	clock := keepNow
	tn := tuning{manual: true, now: func() time.Time { return clock }, compactEvery: -1, compactMinFil: 64 << 10}
	cfg := testConfig(4 << 20)
	cfg.Keep = config.D(7 * 24 * time.Hour)
	log, _ := testLogger(t)
	r, err := open(path, cfg, log, tn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fillAcked(t, r) // the small first file may be compacted while it fills
	c0 := mustStats(t, r).Compactions
	// 12 more hours, all delivered and kept: the file grows with live data.
	for h := 1; h <= 12; h++ {
		clock = keepNow.Add(time.Duration(h) * time.Hour)
		r.Append(hourly(0, 360, 6, 2e6+h*360))
		mustFlush(t, r)
		_, last := r.Bounds()
		r.Ack("mqtt", last)
		mustFlush(t, r)
	}
	st := mustStats(t, r)
	if st.Compactions != c0 || st.FirstSeq != 1 {
		t.Fatalf("%d compactions of a file (%d bytes) holding %d bytes of kept data (first seq %d)", st.Compactions-c0, st.FileBytes, st.DataBytes, st.FirstSeq)
	}
	clock = keepNow.Add(8 * 24 * time.Hour)
	r.Append(hourly(0, 10, 6, 1e6))
	mustFlush(t, r)
	_, last := r.Bounds()
	r.Ack("mqtt", last)
	mustFlush(t, r)
	st = mustStats(t, r)
	if st.Compactions == c0 {
		t.Fatalf("no compaction once the kept week aged out: file %d bytes, data %d", st.FileBytes, st.DataBytes)
	}
}
