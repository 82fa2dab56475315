package buffer

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t testing.TB) (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("buffer log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func testConfig(maxBytes int64) Config {
	return Config{MaxBytes: config.Size(maxBytes), CommitInterval: config.D(time.Second)}
}

// openManual opens a ring without its commit goroutine: the test commits
// with Flush, so nothing depends on timing.
func openManual(t testing.TB, path string, maxBytes int64, tn tuning) *Ring {
	t.Helper()
	tn.manual = true
	log, _ := testLogger(t)
	r, err := open(path, testConfig(maxBytes), log, tn)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "buffer.db") }

var t0 = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)

// refSlot is the reference site's k-th 10 s slot: 40 series, noisy values
// at 0.01 resolution (7-9 stored bytes each, like the sim's waveforms).
func refSlot(k int) []reading.Reading {
	rs := make([]reading.Reading, 40)
	for i := range rs {
		x := float64(k*40 + i)
		v := 230 + 40*math.Sin(x/7000) + 3*math.Sin(x*1.3) + math.Cos(x*0.77)
		rs[i] = reading.Reading{
			Name:  fmt.Sprintf("site.r%02d", i),
			Unit:  "W",
			Time:  t0.Add(time.Duration(k) * 10 * time.Second),
			Value: math.Round(v*100) / 100,
		}
	}
	return rs
}

// gen makes n readings of nSeries series, sampled every 10 s per round, with
// values that identify them: value = k (the reading's index from start).
func gen(start, n, nSeries int) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		k := start + i
		rs[i] = reading.Reading{
			Name:  fmt.Sprintf("site.s%02d", k%nSeries),
			Unit:  "V",
			Time:  t0.Add(time.Duration(k/nSeries) * 10 * time.Second).Add(time.Duration(k%nSeries) * time.Millisecond),
			Value: float64(k),
		}
	}
	return rs
}

func mustFlush(t testing.TB, r *Ring) {
	t.Helper()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, r *Ring, from uint64) []reading.Reading {
	t.Helper()
	var out []reading.Reading
	for {
		rs, err := r.Read(from, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
		from = rs[len(rs)-1].Seq + 1
	}
}

func mustStats(t testing.TB, r *Ring) Stats {
	t.Helper()
	s, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
