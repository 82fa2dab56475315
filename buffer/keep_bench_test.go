package buffer

import (
	"os"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// BenchmarkRefSiteWritesKeep24h is BenchmarkRefSiteWrites with keep = 24h:
// the reference site (40 readings per 10 s commit, a stream acknowledging
// every 15 min) on a simulated clock, after a simulated day that filled
// the 24 h kept. Each iteration is one more 10 s slot, so -benchtime 8640x
// measures a second day, in which a day's worth is pruned as it ages out.
// It reports the pages a commit writes, the file size and the data kept.
func BenchmarkRefSiteWritesKeep24h(b *testing.B) {
	k := 0
	tn := tuning{manual: true, now: func() time.Time { return t0.Add(time.Duration(k+1) * 10 * time.Second) }}
	cfg := testConfig(64 << 20)
	cfg.Keep = config.D(24 * time.Hour)
	log, _ := testLogger(b)
	path := dbPath(b)
	r, err := open(path, cfg, log, tn)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	for ; k < 8640; k++ {
		r.Append(refSlot(k))
		mustFlush(b, r)
		if k%90 == 89 {
			_, last := r.Bounds()
			r.Ack("raw", last)
		}
	}
	st0 := mustStats(b, r)
	pages0 := r.pagesWritten()
	b.ResetTimer()
	for range b.N {
		r.Append(refSlot(k))
		mustFlush(b, r)
		if k%90 == 89 {
			_, last := r.Bounds()
			r.Ack("raw", last)
			mustFlush(b, r)
		}
		k++
	}
	b.StopTimer()
	st1 := mustStats(b, r)
	if st1.DroppedTotal > 0 {
		b.Fatalf("%d readings dropped", st1.DroppedTotal)
	}
	commits := float64(st1.Commits - st0.Commits)
	pages := float64(r.pagesWritten() - pages0)
	b.ReportMetric(pages/commits, "pages/commit")
	b.ReportMetric(pages/commits/2, "x-floor")
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
	b.ReportMetric(float64(st1.DataBytes)/(1<<10), "data-KiB")
	b.ReportMetric(st1.Newest.Sub(st1.Oldest).Hours(), "kept-h")
}
