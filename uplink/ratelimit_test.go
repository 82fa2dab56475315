package uplink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"2KiB/s": 2048, "500/s": 500, " 1MiB / s ": 1 << 20, "": 0} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"2KiB", "2KiB/min", "0/s", "-1/s", "fast/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
	var c struct{ R Rate }
	if _, err := toml.Decode(`R = "3KiB/s"`, &c); err != nil || c.R != 3072 || c.R.String() != "3KiB/s" {
		t.Errorf("decode: %d %v", c.R, err)
	}
}

// fakeClock drives the limiter without sleeping: a sleep advances time.
type fakeClock struct {
	t     time.Time
	slept []time.Duration
}

func (f *fakeClock) now() time.Time { return f.t }
func (f *fakeClock) sleep(_ context.Context, d time.Duration, _ <-chan struct{}) error {
	f.slept = append(f.slept, d)
	f.t = f.t.Add(d)
	return nil
}

func TestLimiterBucket(t *testing.T) {
	fc := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(1000, 0) // 1000 B/s, bucket 2000
	l.now, l.sleep, l.last = fc.now, fc.sleep, fc.t
	ctx := context.Background()
	take := func(n int64) time.Duration {
		t0 := fc.t
		if err := l.take(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
		return fc.t.Sub(t0)
	}
	if d := take(2000); d != 0 {
		t.Errorf("a full bucket waited %s", d)
	}
	if d := take(500); d != 500*time.Millisecond {
		t.Errorf("500 B after an empty bucket waited %s, want 500ms", d)
	}
	// bigger than the bucket: waits for a full bucket, goes whole, and the
	// debt delays the next one
	if d := take(5000); d != 2*time.Second {
		t.Errorf("5000 B waited %s, want 2s (a full bucket)", d)
	}
	if d := take(1000); d != 4*time.Second {
		t.Errorf("after the debt 1000 B waited %s, want 4s", d)
	}
	if l2 := newLimiter(1000, 10000); l2.burst != 10000 {
		t.Errorf("bucket %v, want max_batch_bytes 10000", l2.burst)
	}
	if newLimiter(0, 0) != nil || (*limiter)(nil).take(ctx, 1<<30, nil) != nil {
		t.Error("no rate limit must not wait")
	}
}

// End to end: a 40 KiB/s limit stretches a drain of more than 3 buckets;
// everything arrives and the time can only be longer than the bucket allows.
func TestRateLimitDrain(t *testing.T) {
	src := newMemSource(3)
	src.Append(3000)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, func(c *MQTTConfig, _ *Options) {
		c.RateLimit = 40 << 10
		c.PublishTimeout.Duration = time.Minute
	})
	start := time.Now()
	h.run()
	h.waitCursor("raw", 3000)
	elapsed := time.Since(start)
	h.check("raw", 3000, nil)
	sent := h.u.Budget().SentToday
	if min := time.Duration(float64(sent-80<<10-4096) / float64(40<<10) * float64(time.Second)); elapsed < min {
		t.Errorf("%d bytes in %s, faster than 40KiB/s after an 80KiB bucket allows (%s)", sent, elapsed, min)
	}
	t.Logf("%d bytes in %s", sent, elapsed)
	if !strings.Contains(h.u.cfg.RateLimit.String(), "40KiB/s") {
		t.Errorf("rate %s", h.u.cfg.RateLimit)
	}
}
