package sensors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// fake is a sensor whose behaviour each test sets; it records what the
// sampler did to it.
type fake struct {
	read func(ctx context.Context, n int) ([]Value, error) // nil: one value "v" = n

	mu        sync.Mutex
	slots     []time.Time // slot of each read, from the context
	n         atomic.Int64
	active    atomic.Int32
	overlap   atomic.Bool
	closes    atomic.Int32
	closedAtN []int64 // read count at each Close
}

func (f *fake) Read(ctx context.Context) ([]Value, error) {
	if f.active.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.active.Add(-1)
	slot, _ := Slot(ctx)
	f.mu.Lock()
	f.slots = append(f.slots, slot)
	f.mu.Unlock()
	n := int(f.n.Add(1))
	if f.read != nil {
		return f.read(ctx, n)
	}
	return []Value{{Field: "v", Value: float64(n), Unit: "u"}}, nil
}

func (f *fake) Close() error {
	f.closes.Add(1)
	f.mu.Lock()
	f.closedAtN = append(f.closedAtN, f.n.Load())
	f.mu.Unlock()
	return nil
}

func (f *fake) readSlots() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.slots)
}

// recSink records every Append.
type recSink struct {
	mu    sync.Mutex
	calls [][]reading.Reading
}

func (s *recSink) Append(rs []reading.Reading) {
	s.mu.Lock()
	s.calls = append(s.calls, slices.Clone(rs))
	s.mu.Unlock()
}

func (s *recSink) batches() [][]reading.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *recSink) of(name string) []reading.Reading {
	var out []reading.Reading
	for _, b := range s.batches() {
		for _, r := range b {
			if r.Name == name {
				out = append(out, r)
			}
		}
	}
	return out
}

func cfg(name string, iv, timeout time.Duration) Config {
	return Config{Name: name, Driver: "fake", Interval: config.D(iv), Timeout: config.D(timeout)}
}

// run starts a sampler; the returned stop cancels it and returns Run's error.
func run(t *testing.T, list []Configured, sink Sink, opts SamplerOptions) (*Sampler, func() error) {
	t.Helper()
	s := NewSampler(list, sink, opts)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return 30s after its context was cancelled")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return s, stop
}

// runFast is run with sleeps shortened by speed, for a wall clock that runs
// speed times fast.
func runFast(t *testing.T, list []Configured, opts SamplerOptions, speed time.Duration) (*Sampler, func() error) {
	t.Helper()
	s := NewSampler(list, nil, opts)
	s.realTime = func(d time.Duration) time.Duration { return d / speed }
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	stop := func() error { cancel(); return <-errc }
	t.Cleanup(func() { cancel() })
	return s, stop
}

// waitUntil polls cond; the deadline only guards against a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func statsOf(s *Sampler, name string) SensorStats {
	for _, st := range s.Stats() {
		if st.Name == name {
			return st
		}
	}
	return SensorStats{}
}

func TestSlotMath(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 7, 300_000_000, time.UTC)
	for _, c := range []struct {
		iv              time.Duration
		at, after, from time.Time
	}{
		{10 * time.Second, at.Add(-7300 * time.Millisecond), at.Add(2700 * time.Millisecond), at.Add(2700 * time.Millisecond)},
		{time.Second, at.Add(-300 * time.Millisecond), at.Add(700 * time.Millisecond), at.Add(700 * time.Millisecond)},
		// 7 s does not divide a day: slots are multiples of 7 s since 1970.
		{7 * time.Second, time.Unix(at.Unix()/7*7, 0).UTC(), time.Unix(at.Unix()/7*7+7, 0).UTC(), time.Unix(at.Unix()/7*7+7, 0).UTC()},
	} {
		if got := slotAt(at, c.iv); !got.Equal(c.at) {
			t.Errorf("slotAt(%s, %s) = %s, want %s", at, c.iv, got, c.at)
		}
		if got := slotAfter(at, c.iv); !got.Equal(c.after) {
			t.Errorf("slotAfter(%s, %s) = %s, want %s", at, c.iv, got, c.after)
		}
		if got := slotFrom(at, c.iv); !got.Equal(c.from) {
			t.Errorf("slotFrom(%s, %s) = %s, want %s", at, c.iv, got, c.from)
		}
	}
	exact := time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)
	if got := slotAfter(exact, 10*time.Second); !got.Equal(exact.Add(10 * time.Second)) {
		t.Errorf("slotAfter on a slot = %s, want the next one", got)
	}
	if got := slotFrom(exact, 10*time.Second); !got.Equal(exact) {
		t.Errorf("slotFrom on a slot = %s, want itself", got)
	}
	before := time.Unix(-15, 0) // floor, not truncation, before 1970
	if got := slotAt(before, 10*time.Second); got.Unix() != -20 {
		t.Errorf("slotAt(1969…-15s) = %d, want -20", got.Unix())
	}
	if slotAt(at, time.Second).Location() != time.UTC {
		t.Error("slots should be UTC")
	}
}

func TestBackoffSchedule(t *testing.T) {
	iv := 10 * time.Second
	for k, want := range map[uint64]time.Duration{
		1: iv, 2: 2 * iv, 3: 4 * iv, 4: 8 * iv, 5: 160 * time.Second, 6: maxBackoff, 40: maxBackoff, 1 << 62: maxBackoff,
	} {
		if got := backoff(k, iv); got != want {
			t.Errorf("backoff(%d, %s) = %s, want %s", k, iv, got, want)
		}
	}
	if got := backoff(3, time.Hour); got != time.Hour {
		t.Errorf("backoff for an hourly sensor = %s, want its interval", got)
	}
}

func TestAlignedReadings(t *testing.T) {
	a, b := &fake{}, &fake{}
	sink := &recSink{}
	s, stop := run(t, []Configured{
		{cfg("a", 20*time.Millisecond, 20*time.Millisecond), a},
		{cfg("b.x", 30*time.Millisecond, 0), b}, // default timeout
		{Config: Config{Name: "off", Driver: "fake", Interval: config.D(time.Millisecond), Disabled: true}, Sensor: &fake{}},
	}, sink, SamplerOptions{})
	waitUntil(t, "5 reads of each", func() bool { return a.n.Load() >= 5 && b.n.Load() >= 5 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	for name, iv := range map[string]time.Duration{"a.v": 20 * time.Millisecond, "b.x.v": 30 * time.Millisecond} {
		rs := sink.of(name)
		if len(rs) < 5 {
			t.Fatalf("%s: %d readings", name, len(rs))
		}
		for i, r := range rs {
			if r.Time.UnixNano()%int64(iv) != 0 || r.Time.Location() != time.UTC {
				t.Errorf("%s: reading time %s is not a UTC multiple of %s", name, r.Time, iv)
			}
			if i > 0 && !r.Time.After(rs[i-1].Time) {
				t.Errorf("%s: times not increasing: %s after %s", name, r.Time, rs[i-1].Time)
			}
			if r.Unit != "u" || r.Flags != 0 {
				t.Errorf("%s: reading %+v", name, r)
			}
		}
	}
	// The slot in the read's context is the reading's time.
	slots := a.readSlots()
	if rs := sink.of("a.v"); !slots[0].Equal(rs[0].Time) {
		t.Errorf("slot in context %s, reading time %s", slots[0], rs[0].Time)
	}
	if len(s.Stats()) != 2 {
		t.Errorf("Stats has %d sensors, want 2 (the disabled one is not run)", len(s.Stats()))
	}
	st := statsOf(s, "a")
	if st.Driver != "fake" || st.Interval != 20*time.Millisecond || st.Reads != uint64(len(sink.of("a.v"))) ||
		!st.LastRead.Equal(sink.of("a.v")[len(sink.of("a.v"))-1].Time) {
		t.Errorf("stats of a = %+v", st)
	}
	if got, want := s.Progress(), uint64(len(sink.batches())); got != want {
		t.Errorf("Progress = %d, want %d (one per successful read)", got, want)
	}
	if a.closes.Load() != 1 || b.closes.Load() != 1 {
		t.Errorf("closes after Run: a %d, b %d; want 1 each", a.closes.Load(), b.closes.Load())
	}
}

func TestOverrunSkipsSlots(t *testing.T) {
	iv := 20 * time.Millisecond
	slow := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		select {
		case <-time.After(50 * time.Millisecond): // 2.5 intervals
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []Value{{Field: "v", Value: 1}}, nil
	}}
	sink := &recSink{}
	s, stop := run(t, []Configured{{cfg("slow", iv, time.Second), slow}}, sink, SamplerOptions{})
	waitUntil(t, "4 reads", func() bool { return len(sink.of("slow.v")) >= 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if slow.overlap.Load() {
		t.Error("reads overlapped")
	}
	rs := sink.of("slow.v")
	var gaps uint64
	for i := 1; i < len(rs); i++ {
		d := rs[i].Time.Sub(rs[i-1].Time)
		if d < 3*iv {
			t.Errorf("reads %s apart, but each takes 2.5 intervals", d)
		}
		gaps += uint64(d/iv) - 1
	}
	st := statsOf(s, "slow")
	// The last read's overrun is counted too: at most the slots from the
	// last reading until Run stopped.
	tail := uint64(stopped.Sub(rs[len(rs)-1].Time)/iv) + 1
	if st.SkippedSlots < gaps || st.SkippedSlots > gaps+tail || !st.Overrun {
		t.Errorf("skipped_slots %d (overrun %v), slots missing between readings %d; stats %+v; times %v", st.SkippedSlots, st.Overrun, gaps, st, rs)
	}
}

func TestFailingSensorDoesNotHoldUpOthers(t *testing.T) {
	healthyDone := make(chan struct{})
	var hung atomic.Int32
	bad := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		hung.Add(1)
		select {
		case <-healthyDone:
			return nil, errors.New("bus stuck")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	var once sync.Once
	good := &fake{}
	good.read = func(ctx context.Context, n int) ([]Value, error) {
		if n >= 5 && hung.Load() > 0 {
			once.Do(func() { close(healthyDone) })
		}
		return []Value{{Field: "v", Value: float64(n)}}, nil
	}
	s, stop := run(t, []Configured{
		{cfg("bad", 20*time.Millisecond, 20*time.Second), bad},
		{cfg("good", 20*time.Millisecond, 20*time.Millisecond), good},
	}, &recSink{}, SamplerOptions{})
	waitUntil(t, "the bad sensor's first failure", func() bool { return statsOf(s, "bad").Errors >= 1 })
	stop()
	// The bad read ended because the healthy one went on reading while it
	// hung, not because it timed out.
	if st := statsOf(s, "bad"); !strings.Contains(st.LastError, "bus stuck") {
		t.Errorf("bad sensor's error = %q, want the bus error (the healthy sensor was held up?)", st.LastError)
	}
}

func TestBackoffAndLogging(t *testing.T) {
	// The wall clock runs 5000× fast so that 25 failures with backoff up to
	// 5 min take about a second. Retries are never closer than the backoff.
	base, realStart := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()
	now := func() time.Time { return base.Add(time.Since(realStart) * 5000) }
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelInfo}))

	dead := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return nil, fmt.Errorf("i2c 1 addr 0x40: remote I/O error")
	}}
	iv := time.Second
	s, stop := runFast(t, []Configured{{cfg("battery", iv, iv), dead}}, SamplerOptions{Log: log, Now: now}, 5000)
	waitUntil(t, "25 failures", func() bool { return dead.n.Load() >= 25 })
	stop()

	slots := dead.readSlots()
	for k := 1; k < 25; k++ {
		gap := slots[k].Sub(slots[k-1])
		if want := backoff(uint64(k), iv); gap < want {
			t.Errorf("retry %d came %s after failure %d, want at least %s", k+1, gap, k, want)
		}
	}
	st := statsOf(s, "battery")
	if st.Errors < 25 || st.ConsecutiveErrors != st.Errors || st.Reads != 0 || st.BackoffSlots == 0 {
		t.Errorf("stats = %+v", st)
	}
	if !strings.Contains(st.LastError, "remote I/O error") {
		t.Errorf("last error = %q", st.LastError)
	}
	// Closed after every failure from the reopenAfter-th on, never before.
	dead.mu.Lock()
	closedAt := slices.Clone(dead.closedAtN)
	dead.mu.Unlock()
	if len(closedAt) < 20 || closedAt[0] != reopenAfter {
		t.Errorf("closed after reads %v, want from read %d on", closedAt, reopenAfter)
	}

	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	warns := strings.Count(text, "level=WARN")
	wantWarns := 1 + int(st.Errors)/logEvery
	if warns != wantWarns {
		t.Errorf("%d WARN lines for %d failures, want %d (first, then every %d):\n%s", warns, st.Errors, wantWarns, logEvery, text)
	}
	if !strings.Contains(text, "sensor=battery") || !strings.Contains(text, "driver=fake") {
		t.Errorf("log lines should name the sensor and driver:\n%s", text)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestRecoveryAndNotFitted(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))

	flaky := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		if n <= 3 {
			return nil, errors.New("CRC mismatch")
		}
		return []Value{{Field: "v", Value: 1}}, nil
	}}
	absent := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return nil, fmt.Errorf("bme280 on i2c 1 at 0x76: %w", ErrNotFitted)
	}}
	s, stop := run(t, []Configured{
		{cfg("flaky", 10*time.Millisecond, 10*time.Millisecond), flaky},
		{cfg("absent", 10*time.Millisecond, 10*time.Millisecond), absent},
	}, nil, SamplerOptions{Log: log})
	waitUntil(t, "recovery", func() bool { return statsOf(s, "flaky").Reads >= 1 && absent.n.Load() >= 3 })
	stop()

	if st := statsOf(s, "flaky"); st.ConsecutiveErrors != 0 || st.Errors != 3 {
		t.Errorf("flaky stats after recovery = %+v", st)
	}
	if st := statsOf(s, "absent"); !st.NotFitted || st.Errors < 3 {
		t.Errorf("absent stats = %+v", st)
	}
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if !strings.Contains(text, "sensor recovered after 3 errors") {
		t.Errorf("no recovery line:\n%s", text)
	}
	if n := strings.Count(text, `level=INFO msg="sensor not fitted; retrying quietly" sensor=absent`); n != 1 {
		t.Errorf("a sensor not fitted should be logged once at INFO, got %d times:\n%s", n, text)
	}
	if n := strings.Count(text, "level=WARN"); n != 1 {
		t.Errorf("want 1 WARN (the flaky sensor's first failure), got %d:\n%s", n, text)
	}
}

func TestTimeoutCancelsHungRead(t *testing.T) {
	var cause atomic.Value
	hung := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		<-ctx.Done()
		cause.Store(ctx.Err())
		return nil, fmt.Errorf("spi: %w", ctx.Err())
	}}
	s, stop := run(t, []Configured{{cfg("hung", 50*time.Millisecond, 30*time.Millisecond), hung}}, nil, SamplerOptions{})
	waitUntil(t, "a timed-out read", func() bool { return statsOf(s, "hung").Errors >= 2 })
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if c, _ := cause.Load().(error); !errors.Is(c, context.DeadlineExceeded) {
		t.Errorf("read's context ended with %v, want DeadlineExceeded", c)
	}
	if st := statsOf(s, "hung"); !strings.Contains(st.LastError, "timed out after 30ms") {
		t.Errorf("last error = %q", st.LastError)
	}
	if hung.overlap.Load() {
		t.Error("reads overlapped")
	}
}

func TestUnsyncedFlag(t *testing.T) {
	var synced atomic.Bool
	f := &fake{}
	sink := &recSink{}
	_, stop := run(t, []Configured{{cfg("s", 10*time.Millisecond, 10*time.Millisecond), f}}, sink, SamplerOptions{Synced: synced.Load})
	waitUntil(t, "2 reads", func() bool { return len(sink.of("s.v")) >= 2 })
	synced.Store(true)
	n := len(sink.of("s.v"))
	waitUntil(t, "2 more reads", func() bool { return len(sink.of("s.v")) >= n+2 })
	stop()
	rs := sink.of("s.v")
	if rs[0].Flags != reading.ClockUnsynced {
		t.Errorf("first reading flags %v, want ClockUnsynced", rs[0].Flags)
	}
	if last := rs[len(rs)-1]; last.Flags != 0 {
		t.Errorf("reading after sync flags %v, want none", last.Flags)
	}
}

func TestBadValues(t *testing.T) {
	mixed := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return []Value{{Field: "ok", Value: 1}, {Field: "nan", Value: math.NaN()}, {Field: "bad name", Value: 2}, {Field: "inf", Value: math.Inf(-1)}}, nil
	}}
	allBad := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return []Value{{Value: math.NaN()}}, nil
	}}
	empty := &fake{read: func(ctx context.Context, n int) ([]Value, error) { return nil, nil }}
	sink := &recSink{}
	s, stop := run(t, []Configured{
		{cfg("m", 10*time.Millisecond, 10*time.Millisecond), mixed},
		{cfg("b", 10*time.Millisecond, 10*time.Millisecond), allBad},
		{cfg("e", 10*time.Millisecond, 10*time.Millisecond), empty},
	}, sink, SamplerOptions{})
	waitUntil(t, "reads", func() bool { return mixed.n.Load() >= 2 && allBad.n.Load() >= 2 && empty.n.Load() >= 1 })
	stop()
	for _, b := range sink.batches() {
		if len(b) != 1 || b[0].Name != "m.ok" {
			t.Errorf("appended %+v, want only m.ok", b)
		}
	}
	if st := statsOf(s, "m"); st.BadValues != 3*st.Reads || st.Errors != 0 || st.Reads == 0 {
		t.Errorf("mixed stats %+v", st)
	}
	if st := statsOf(s, "b"); st.Reads != 0 || st.Errors == 0 || !strings.Contains(st.LastError, "not a finite number") {
		t.Errorf("all-bad stats %+v", st)
	}
	if st := statsOf(s, "e"); st.Errors == 0 || !strings.Contains(st.LastError, "no values") {
		t.Errorf("empty stats %+v", st)
	}
}

// stepClock is the wall clock with an offset a test can step.
type stepClock struct{ off atomic.Int64 }

func (c *stepClock) now() time.Time       { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *stepClock) step(d time.Duration) { c.off.Add(int64(d)) }

func TestClockSteps(t *testing.T) {
	iv := 20 * time.Millisecond
	start := func(t *testing.T) (*stepClock, *fake, *recSink, *Sampler, func() error) {
		clk := &stepClock{}
		f := &fake{}
		sink := &recSink{}
		s, stop := run(t, []Configured{{cfg("s", iv, iv), f}}, sink, SamplerOptions{Now: clk.now})
		waitUntil(t, "3 reads", func() bool { return len(sink.of("s.v")) >= 3 })
		return clk, f, sink, s, stop
	}
	increasing := func(t *testing.T, rs []reading.Reading) {
		t.Helper()
		for i := 1; i < len(rs); i++ {
			if !rs[i].Time.After(rs[i-1].Time) {
				t.Errorf("slot %s read after slot %s", rs[i].Time, rs[i-1].Time)
			}
		}
	}

	t.Run("forward 3h: no catch-up burst", func(t *testing.T) {
		clk, _, sink, s, stop := start(t)
		clk.step(3 * time.Hour)
		stepped := clk.now()
		after := func() (n int) {
			for _, r := range sink.of("s.v") {
				if !r.Time.Before(stepped.Add(-iv)) {
					n++
				}
			}
			return n
		}
		waitUntil(t, "3 reads after the step", func() bool { return after() >= 3 })
		stop()
		rs := sink.of("s.v")
		increasing(t, rs)
		// Nothing is read between the old time and the new one (a
		// minute's slack either side for a stalled test machine).
		old := rs[0].Time
		for _, r := range rs {
			if r.Time.After(old.Add(time.Minute)) && r.Time.Before(stepped.Add(-time.Minute)) {
				t.Errorf("reading at %s, inside the %s the clock skipped: a catch-up read", r.Time, 3*time.Hour)
			}
		}
		if st := statsOf(s, "s"); st.SkippedSlots > uint64(time.Minute/iv) {
			t.Errorf("a clock step counted as %d skipped slots", st.SkippedSlots)
		}
	})

	t.Run("back 70ms: hold, never read a slot twice", func(t *testing.T) {
		clk, f, sink, _, stop := start(t)
		clk.step(-70 * time.Millisecond)
		n := f.n.Load()
		waitUntil(t, "5 reads after the step", func() bool { return f.n.Load() >= n+5 })
		stop()
		increasing(t, sink.of("s.v"))
	})

	t.Run("back 1h: follow the clock", func(t *testing.T) {
		clk, _, sink, _, stop := start(t)
		first := sink.of("s.v")[0].Time
		clk.step(-time.Hour)
		var old, cur []reading.Reading
		split := func() {
			old, cur = nil, nil
			for _, r := range sink.of("s.v") {
				if r.Time.Before(first) {
					cur = append(cur, r)
				} else {
					old = append(old, r)
				}
			}
		}
		waitUntil(t, "3 reads on the stepped-back clock", func() bool { split(); return len(cur) >= 3 })
		stop()
		split()
		increasing(t, old)
		increasing(t, cur)
		if d := first.Sub(cur[0].Time); d < 59*time.Minute {
			t.Errorf("first reading after the step is %s before the first one, want about 1h", d)
		}
	})
}

func TestRunStopsAndCloses(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stubborn := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		<-release // ignores its context
		return nil, errors.New("late")
	}}
	ok := &fake{}
	s, stop := run(t, []Configured{
		{cfg("ok", 10*time.Millisecond, 10*time.Millisecond), ok},
		{cfg("stubborn", 10*time.Millisecond, 10*time.Millisecond), stubborn},
		{cfg("nosensor", 10*time.Millisecond, 10*time.Millisecond), nil},
	}, nil, SamplerOptions{})
	waitUntil(t, "both reading", func() bool { return ok.n.Load() >= 1 && stubborn.n.Load() >= 1 })
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "stubborn") || strings.Contains(err.Error(), "sensor ok") {
		t.Errorf("Run = %v, want an error naming only the stuck sensor", err)
	}
	if ok.closes.Load() != 1 || stubborn.closes.Load() != 0 {
		t.Errorf("closes: ok %d (want 1), stubborn %d (want 0: still reading)", ok.closes.Load(), stubborn.closes.Load())
	}
	if st := statsOf(s, "nosensor"); !strings.Contains(st.LastError, "no sensor") {
		t.Errorf("unscheduled sensor's stats: %+v", st)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run did not fail")
	}
}

func TestReadOnce(t *testing.T) {
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		if _, ok := Slot(ctx); !ok {
			return nil, errors.New("no slot")
		}
		return []Value{{Field: "voltage", Value: 12.5, Unit: "V"}, {Field: "current", Value: math.NaN(), Unit: "A"}, {Value: 3}}, nil
	}}
	before := time.Now()
	rs, err := ReadOnce(context.Background(), Configured{cfg("battery", 10*time.Second, 0), f})
	if err == nil || !strings.Contains(err.Error(), "battery.current") {
		t.Errorf("ReadOnce error = %v, want one naming battery.current", err)
	}
	if len(rs) != 2 || rs[0].Name != "battery.voltage" || rs[0].Value != 12.5 || rs[0].Unit != "V" || rs[1].Name != "battery" {
		t.Errorf("ReadOnce = %+v", rs)
	}
	if rs[0].Time.Before(before.Add(-time.Millisecond)) || rs[0].Time.Location() != time.UTC {
		t.Errorf("reading time %s, want now in UTC", rs[0].Time)
	}
	if f.closes.Load() != 1 {
		t.Errorf("ReadOnce closed the sensor %d times, want 1", f.closes.Load())
	}

	hung := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	_, err = ReadOnce(context.Background(), Configured{cfg("slow", 10*time.Second, 20*time.Millisecond), hung})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "sensor slow (fake)") {
		t.Errorf("ReadOnce of a hung sensor = %v", err)
	}
}

type holdKey struct{}

// Lateness is taken as the driver's Read is called, not when the sampler
// woke: a scheduled read kept off the bus by a ReadNow counts as late.
func TestLatenessIsTakenAtTheRead(t *testing.T) {
	iv := 20 * time.Millisecond
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		if ctx.Value(holdKey{}) != nil {
			time.Sleep(3 * iv) // the ReadNow holds the bus over the next slots
		}
		return []Value{{Field: "v", Value: 1}}, nil
	}}
	s, stop := run(t, []Configured{{cfg("s", iv, time.Second), f}}, nil, SamplerOptions{})
	waitUntil(t, "2 reads", func() bool { return f.n.Load() >= 2 })
	if _, err := s.ReadNow(context.WithValue(context.Background(), holdKey{}, true), "s"); err != nil {
		t.Fatal(err)
	}
	n := f.n.Load()
	waitUntil(t, "2 more reads", func() bool { return f.n.Load() >= n+2 })
	stop()
	// Under 100 samples the nearest-rank p99 is the largest.
	if st := statsOf(s, "s"); st.LatenessP99 < iv || st.Reads >= 100 {
		t.Errorf("p99 lateness %s over %d reads, want at least %s: the read after the ReadNow waited for it", st.LatenessP99, st.Reads, iv)
	}
}

// BenchmarkLateness runs 40 sensors at 20 ms (the reference site's count,
// 500× its rate) and reports how late after their slot reads start.
func BenchmarkLateness(b *testing.B) {
	var list []Configured
	for i := range 40 {
		list = append(list, Configured{cfg(fmt.Sprintf("s%02d", i), 20*time.Millisecond, 20*time.Millisecond), &fake{}})
	}
	s := NewSampler(list, &recSink{}, SamplerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for s.Progress() == 0 { // then Run has made s.wake
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	start, wakes0 := time.Now(), s.wake.wakes.Load()
	for s.Progress() < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	slots := float64(time.Since(start) / (20 * time.Millisecond))
	wakes := float64(s.wake.wakes.Load() - wakes0)
	cancel()
	<-done
	var p50s []time.Duration
	var p99 time.Duration
	for _, st := range s.Stats() {
		p50s = append(p50s, st.LatenessP50)
		p99 = max(p99, st.LatenessP99)
	}
	slices.Sort(p50s)
	b.ReportMetric(float64(p50s[len(p50s)/2].Microseconds()), "p50-late-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-late-µs")
	// One timer wake-up per slot, not one per sensor.
	b.ReportMetric(wakes/slots, "wakes/slot")
}

func TestImplausibleTimeFlagged(t *testing.T) {
	// A box whose clock says 1970 (no saved time, no NTP): its readings are
	// kept, flagged, never dropped; the plausibility rule gets the slot.
	var cutoff atomic.Int64
	cutoff.Store(time.Now().Add(time.Hour).UnixNano()) // every slot is "before the build"
	plaus := func(ts, now time.Time, synced bool) bool { return ts.UnixNano() >= cutoff.Load() }
	f := &fake{}
	sink := &recSink{}
	_, stop := run(t, []Configured{{cfg("s", 10*time.Millisecond, 10*time.Millisecond), f}}, sink,
		SamplerOptions{Synced: func() bool { return false }, Plausible: plaus})
	waitUntil(t, "2 reads", func() bool { return len(sink.of("s.v")) >= 2 })
	cutoff.Store(0)
	n := len(sink.of("s.v"))
	waitUntil(t, "2 more reads", func() bool { return len(sink.of("s.v")) >= n+2 })
	stop()
	rs := sink.of("s.v")
	if rs[0].Flags != reading.ClockUnsynced|reading.TimeImplausible {
		t.Errorf("first reading flags %v, want ClockUnsynced|TimeImplausible", rs[0].Flags)
	}
	if last := rs[len(rs)-1]; last.Flags != reading.ClockUnsynced {
		t.Errorf("reading after the date became plausible: flags %v, want ClockUnsynced", last.Flags)
	}
}
