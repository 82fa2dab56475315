package web

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/reading"
)

// BenchmarkReduceRefSiteDay is one 24 h plot request over a buffer that
// holds a whole day of the reference site (40 series at 10 s: 345,600
// readings, as after a day with the link down): the page's most expensive
// request. It reports the time per request and per reading read.
func BenchmarkReduceRefSiteDay(b *testing.B) {
	cfg := buffer.DefaultConfig()
	ring, err := buffer.Open(filepath.Join(b.TempDir(), "buffer.db"), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ring.Close()
	to := time.Now().Truncate(10 * time.Second)
	from := to.Add(-24 * time.Hour)
	rs := make([]reading.Reading, 0, 40*360)
	for ts := from; ts.Before(to); ts = ts.Add(10 * time.Second) {
		for i := 0; i < 40; i++ {
			rs = append(rs, reading.Reading{Name: fmt.Sprintf("s%02d.value", i), Time: ts, Value: float64(ts.Unix()%3600) * float64(i), Unit: "W"})
		}
		if len(rs) == cap(rs) {
			ring.Append(rs)
			if err := ring.Flush(); err != nil {
				b.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	ring.Append(rs)
	ring.Flush()
	b.ResetTimer()
	var n int
	for range b.N {
		series, _, err := Reduce(ring, from, to)
		if err != nil || len(series) != 40 {
			b.Fatalf("%d series, %v", len(series), err)
		}
		n = 0
		for _, s := range series {
			n += len(s.T)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/345600, "ns/reading")
	b.ReportMetric(float64(n)/40, "points/series")
}
