package uplink

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/uplink/format"
)

// flakyFormat is the json format until fail is set: a backend's exec script
// that breaks, a template that cannot render.
type flakyFormat struct{ fail *atomic.Bool }

func (f flakyFormat) ContentType() string { return "application/json" }

func (f flakyFormat) Format(b *format.Batch) ([]byte, error) {
	if f.fail.Load() {
		return nil, errors.New("injected format failure")
	}
	return format.JSON{}.Format(b)
}

// TestStreamBacksOffWhileTheFormatterFails: a stream whose batch cannot be
// formatted waits 1s, 2s, 4s ... up to 5 minutes between attempts instead of
// running the formatter (an exec command printing 100 MB) every second, logs
// the failure once and then at most every 10 minutes, and after a batch
// goes out starts again from 1s. The waits are asked of a hook, not slept.
func TestStreamBacksOffWhileTheFormatterFails(t *testing.T) {
	src := newMemSource(1)
	src.Append(10)
	var logs lockedBuf
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", 0, 100)}, func(_ *MQTTConfig, o *Options) {
		o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	var fail atomic.Bool
	fail.Store(true)
	s := h.u.streams[0]
	s.f, s.app, s.ctxf = flakyFormat{&fail}, nil, nil
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC).UnixNano())
	h.u.now = func() time.Time { return time.Unix(0, now.Load()) }
	type wait struct {
		d    time.Duration
		fire chan time.Time
	}
	waits := make(chan wait, 100) // never blocks the stream, whatever the test does
	s.after = func(d time.Duration) <-chan time.Time {
		w := wait{d, make(chan time.Time, 1)}
		waits <- w
		return w.fire
	}
	next := func() wait {
		t.Helper()
		select {
		case w := <-waits:
			return w
		case <-time.After(20 * time.Second): // a hang bound, not a timing
			t.Fatal("no retry asked for")
			return wait{}
		}
	}
	failures := func() int { return strings.Count(logs.String(), "batch not built") }

	h.run()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, sec := range want {
		w := next()
		if w.d != sec*time.Second {
			t.Fatalf("wait after failure %d: %s, want %s", i+1, w.d, sec*time.Second)
		}
		if n := failures(); n != 1 {
			t.Fatalf("after failure %d: %d failure log lines, want 1 (then at most one per 10 minutes)", i+1, n)
		}
		w.fire <- time.Time{}
	}
	now.Add(int64(10 * time.Minute))
	next().fire <- time.Time{} // failure 12, ten minutes after the first log line
	w := next()
	if n := failures(); n != 2 || w.d != 300*time.Second {
		t.Fatalf("ten minutes on: %d failure log lines (want 2), wait %s (want 5m0s)", n, w.d)
	}
	if c := src.Cursor("raw"); c != 0 {
		t.Fatalf("cursor %d while no batch could be formatted", c)
	}

	fail.Store(false)
	w.fire <- time.Time{}
	h.waitCursor("raw", 10)
	fail.Store(true)
	src.Append(5)
	if w := next(); w.d != time.Second {
		t.Errorf("first wait after a batch went out: %s, want 1s (the backoff resets)", w.d)
	}
	if !strings.Contains(logs.String(), "batch built again") {
		t.Errorf("no line saying the stream recovered:\n%s", logs.String())
	}
}
