package sensors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/karana-energy/karana-edge/cron"
	"github.com/karana-energy/karana-edge/reading"
)

// The sampler's schedule, in short (the numbers are the constants below):
//
//   - one goroutine per sensor: sensors block on their buses independently,
//     so a hung I2C read never holds up the others;
//   - but one timer for all of them (waker.go): sensors sharing a slot are
//     woken together by a single timerfd, tens of microseconds after the
//     slot, where a Go timer each was about a millisecond late;
//   - reads happen on wall-clock slots, multiples of the interval since the
//     Unix epoch, and each reading is stamped with its slot time, not the
//     instant the read ran: readings of every box line up (a fleet can be
//     compared and summed per slot in Grafana without resampling), and a
//     series' timestamps form an exact arithmetic progression, which
//     delta-of-delta encoding in the packed format and in InfluxDB/Gorilla
//     stores in about one bit per reading;
//   - the next slot is recomputed from the wall clock after every read
//     (timers, not tickers): a clock stepped forward by NTP after a boot
//     without RTC causes no burst of catch-up reads; a small backward step
//     (up to maxHoldBack) is waited out so no slot time is used twice, and a
//     bigger one is followed rather than slept through;
//   - reads never overlap: a read that overruns its timeout is cancelled, and
//     slots that pass while it runs are skipped and counted, not queued;
//   - each value is calibrated (Config.Fields: scale, offset, unit) and
//     range-checked before it is named; a value out of range is counted
//     (SensorStats.OutOfRange), not stored, and the read still succeeds
//     (fields.go);
//   - a failing sensor is retried at most every min(2^(k-1) intervals, 5 min)
//     after k consecutive failures — the first retry is the very next slot,
//     so a one-off bus glitch costs one reading — and closed after
//     reopenAfter failures so that its next read re-opens the bus and
//     re-initialises the chip (a brown-out can leave a chip unconfigured).

// MaxBackoff bounds the retry spacing of a failing sensor; the watchdog
// allows a quiet spell this long.
const MaxBackoff = 5 * time.Minute

const (
	// maxBackoff bounds the retry spacing of a failing sensor.
	maxBackoff = MaxBackoff
	// maxHoldBack: when the wall clock steps back, the sampler waits rather
	// than stamp a second reading with a slot time it already used (InfluxDB
	// would silently overwrite the first), but only for a step this small —
	// an NTP correction. After a bigger step it follows the new clock.
	maxHoldBack = 2 * time.Minute
	// maxSleep bounds one sleep so a forward clock step is noticed within it
	// even by a sensor with a long interval (timers run on the monotonic
	// clock and do not see wall-clock steps).
	maxSleep = 30 * time.Second
	// logEvery: a failing sensor is logged at its first failure and then at
	// every logEvery-th consecutive one; a dead sensor must not flood the
	// journal on an SD card.
	logEvery = 10
	// reopenAfter consecutive failures, the sensor is closed after each
	// failed read, so the next read starts from a freshly opened bus.
	reopenAfter = 3
	// stopGrace is added to the longest read timeout when Run waits for
	// in-flight reads at shutdown.
	stopGrace = time.Second
)

// Sink receives the readings of each successful read, one call per read;
// the buffer implements it. Append must not keep the slice.
type Sink interface {
	Append([]reading.Reading)
}

// Configured is a sensor with its configuration (Config.Options already
// turned into Sensor by its driver's New).
type Configured struct {
	Config Config
	Sensor Sensor
}

// SamplerOptions are the sampler's optional collaborators.
type SamplerOptions struct {
	// Log receives failures and clock steps; nil discards.
	Log *slog.Logger
	// Synced reports whether the system clock is synchronized (clock.Synced);
	// readings taken while it is false carry reading.ClockUnsynced. Nil means
	// always synchronized.
	Synced func() bool
	// Now is the wall clock; nil means time.Now. Tests step it.
	Now func() time.Time
	// Plausible decides whether a slot time can be right (clock.Plausible:
	// not before the build date); readings of a slot that cannot carry
	// reading.TimeImplausible and are still stored and sent. Nil: all are.
	Plausible func(t, now time.Time, synced bool) bool
}

// Sampler reads every configured sensor on its own schedule and hands the
// readings to a Sink.
type Sampler struct {
	runners  []*runner
	sink     Sink
	log      *slog.Logger
	synced   func() bool
	now      func() time.Time
	plaus    func(t, now time.Time, synced bool) bool
	progress atomic.Uint64
	started  atomic.Bool
	// wake times every sensor's sleep (waker.go); made by Run.
	wake *waker
	// realTime maps a sleep on the wall clock (s.now) to real time; nil is
	// the identity. Tests that run the wall clock fast shorten it to match.
	realTime func(time.Duration) time.Duration
}

// runner is one sensor's schedule and counters.
type runner struct {
	name, driver string
	sensor       Sensor
	iv, timeout  time.Duration
	log          *slog.Logger
	invalid      string // why it cannot be scheduled; "" when it can
	done         chan struct{}

	fields map[string]FieldConfig // per-field calibration, from Config.Fields

	sched     []cron.Schedule // when set, timing comes from these, not iv
	schedSpec []string

	// readMu keeps a remote one-shot read (ReadNow) off the bus while the
	// schedule's own read, or the close after repeated failures, runs.
	readMu sync.Mutex

	// Touched only by the runner's goroutine.
	notFittedLogged bool
	badLogged       uint64
	oorLogged       uint64
	fieldsChecked   bool

	mu   sync.Mutex // guards st and late, read by Stats
	st   SensorStats
	late latencies
}

type discardSink struct{}

func (discardSink) Append([]reading.Reading) {}

// NewSampler prepares the sampler for list; disabled sensors are left out.
// A nil sink discards readings.
func NewSampler(list []Configured, sink Sink, opts SamplerOptions) *Sampler {
	s := &Sampler{sink: sink, log: opts.Log, synced: opts.Synced, now: opts.Now, plaus: opts.Plausible}
	if s.sink == nil {
		s.sink = discardSink{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.synced == nil {
		s.synced = func() bool { return true }
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, c := range list {
		if c.Config.Disabled {
			continue
		}
		r := &runner{
			name:    c.Config.Name,
			driver:  c.Config.Driver,
			sensor:  c.Sensor,
			iv:      c.Config.Interval.Duration,
			timeout: readTimeout(c.Config),
			fields:  c.Config.Fields,
			log:     s.log.With("sensor", c.Config.Name, "driver", c.Config.Driver),
			done:    make(chan struct{}),
		}
		if len(c.Config.Schedule) > 0 {
			r.schedSpec = c.Config.Schedule
			r.sched, r.invalid = parseSchedule(c.Config.Schedule)
		}
		switch {
		case r.invalid != "":
		case r.sensor == nil:
			r.invalid = "no sensor (driver New was not called)"
		case r.iv <= 0:
			r.invalid = fmt.Sprintf("interval must be positive, got %s", r.iv)
		case r.timeout <= 0:
			r.invalid = fmt.Sprintf("timeout must be positive, got %s", r.timeout)
		}
		r.st = SensorStats{Name: r.name, Driver: r.driver, Interval: r.iv, LastError: r.invalid}
		s.runners = append(s.runners, r)
	}
	return s
}

// Run samples until ctx is done, then waits for reads in flight (each is
// cancelled with ctx; the wait is bounded by the longest read timeout plus a
// second, in case a driver ignores its context) and closes the sensors.
// It returns the errors of closing, and names any sensor still stuck in a
// read (left unclosed: closing a bus under a running read is worse).
func (s *Sampler) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("sensors: sampler: Run called twice")
	}
	s.wake = newWaker(newAlarm(), s.realTime)
	go s.wake.run()
	defer s.wake.stop()
	var longest time.Duration
	for _, r := range s.runners {
		if r.invalid != "" {
			r.log.Error("sensor not scheduled", "reason", r.invalid)
			close(r.done)
			continue
		}
		longest = max(longest, r.timeout)
		if len(r.sched) > 0 {
			go s.cronLoop(ctx, r)
			continue
		}
		go s.loop(ctx, r)
	}
	<-ctx.Done()

	wait, cancel := context.WithTimeout(context.Background(), longest+stopGrace)
	defer cancel()
	var errs []error
	for _, r := range s.runners {
		if r.invalid != "" {
			continue
		}
		select {
		case <-r.done:
		case <-wait.Done():
		}
		select {
		case <-r.done:
			if err := r.sensor.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sensor %s (%s): close: %w", r.name, r.driver, err))
			}
		default:
			r.log.Error("sensor read did not return after stop; leaving it open", "waited", longest+stopGrace)
			errs = append(errs, fmt.Errorf("sensor %s (%s): read still running %s after stop (driver ignores its context)", r.name, r.driver, longest+stopGrace))
		}
	}
	return errors.Join(errs...)
}

// Progress returns the number of successful reads so far, over all sensors.
// The systemd watchdog is fed only while it moves.
func (s *Sampler) Progress() uint64 { return s.progress.Load() }

// Stats returns every scheduled sensor's counters, in configuration order.
func (s *Sampler) Stats() []SensorStats {
	out := make([]SensorStats, len(s.runners))
	for i, r := range s.runners {
		r.mu.Lock()
		out[i] = r.st
		p := r.late.percentiles(50, 99)
		r.mu.Unlock()
		out[i].LatenessP50, out[i].LatenessP99 = p[0], p[1]
	}
	return out
}

// loop is one sensor's goroutine.
func (s *Sampler) loop(ctx context.Context, r *runner) {
	defer close(r.done)
	iv := r.iv
	var last time.Time // slot of the last read; zero before the first
	next := slotAfter(s.now(), iv)
	for {
		now, monoLate, step, ok := s.sleepUntil(ctx, next)
		if !ok {
			return
		}
		if now.Before(next) {
			// Woken early on purpose (maxSleep), or the wall clock stepped
			// back while we slept (timers run on the monotonic clock). A
			// small step is sat out, so no slot time is used twice; after
			// a big one the plan moves with the clock.
			if step <= -maxHoldBack {
				r.log.Info("wall clock stepped back; following it", "by", (-step).String(), "last_slot", last)
				next = slotFrom(next.Add(step), iv)
			}
			continue
		}
		slot := slotAt(now, iv)
		onTime := true
		if missed := int64(slot.Sub(next) / iv); missed > 0 {
			onTime = false
			// Woken whole slots late: either this process was stalled
			// (the monotonic clock saw it too) or the wall clock stepped
			// forward (it did not). Only the first is lost data.
			stalled := min(missed, int64(monoLate/iv))
			r.count(func(st *SensorStats) { st.SkippedSlots += uint64(stalled) })
			if missed > stalled {
				r.log.Info("wall clock stepped forward; not catching up", "by", (time.Duration(missed-stalled) * iv).String(), "slot", slot)
			}
		}

		start := time.Now()
		s.sample(ctx, r, slot, onTime)
		elapsed := time.Since(start)
		if ctx.Err() != nil {
			return
		}
		last = slot

		// Slots that began, in real time, while this read ran.
		overrun := (now.Sub(slot) + elapsed) / iv
		r.count(func(st *SensorStats) {
			st.Overrun = overrun > 0
			st.SkippedSlots += uint64(overrun)
		})
		next = s.holdOrFollow(r, slotAfter(s.now(), iv), last)

		r.mu.Lock()
		k := r.st.ConsecutiveErrors
		r.mu.Unlock()
		if k > 0 {
			// Spaced from the slot the next read would have had, so that a
			// clock step during the read does not stretch the backoff.
			if earliest := slotFrom(next.Add(backoff(k, iv)-iv), iv); next.Before(earliest) {
				n := uint64(earliest.Sub(next) / iv)
				r.count(func(st *SensorStats) { st.BackoffSlots += n })
				next = earliest
			}
		}
	}
}

// backoff is the retry spacing after k consecutive failures:
// 1, 2, 4, 8 … intervals, at most maxBackoff (but never under one interval).
func backoff(k uint64, iv time.Duration) time.Duration {
	if k > 30 {
		k = 30
	}
	d := iv << (k - 1)
	if d <= 0 || d > maxBackoff { // <= 0: shifted past int64
		d = maxBackoff
	}
	return max(d, iv)
}

// holdOrFollow guards against reading a slot twice when the wall clock
// stepped back during a read: next is the slot after the wall clock's now,
// last the slot just read.
func (s *Sampler) holdOrFollow(r *runner, next, last time.Time) time.Time {
	if next.After(last) {
		return next
	}
	if last.Sub(next) < maxHoldBack {
		return last.Add(r.iv)
	}
	r.log.Info("wall clock stepped back; following it", "last_slot", last, "next_slot", next)
	return next
}

// sleepUntil waits until the wall clock reaches next, or for maxSleep at
// most: the caller looks at the wall clock again when it returns, so a step
// in either direction is seen within maxSleep. It returns the wall time on
// waking, how much later than planned it woke by the monotonic clock, how
// far the wall clock stepped while it slept (its advance minus the
// monotonic one), and false when ctx ended.
func (s *Sampler) sleepUntil(ctx context.Context, next time.Time) (now time.Time, late, step time.Duration, ok bool) {
	before, start := s.now(), time.Now()
	d := next.Sub(before)
	if d <= 0 {
		return before, 0, 0, ctx.Err() == nil
	}
	d = min(d, maxSleep)
	sl := s.wake.after(start, d)
	select {
	case <-ctx.Done():
		s.wake.cancel(sl)
		return time.Time{}, 0, 0, false
	case <-sl.ch:
	}
	elapsed := time.Since(start)
	now = s.now()
	return now, max(0, elapsed-d), now.Sub(before) - elapsed, true
}

// sample reads the sensor once for slot and records the outcome. onTime
// says the read is for the slot it was planned for (not one the process was
// stalled past or the clock jumped to): its lateness goes into the stats.
func (s *Sampler) sample(ctx context.Context, r *runner, slot time.Time, onTime bool) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	rctx, cancel := context.WithTimeout(WithSlot(ctx, slot), r.timeout)
	// Lateness is taken here, as the read starts: it includes waiting
	// for the waker, the goroutine being scheduled, and a ReadNow holding
	// the bus.
	late := s.now().Sub(slot)
	start := time.Now()
	vals, err := r.sensor.Read(rctx)
	dur := time.Since(start)
	// Sensors sharing a slot are released together; let the others start
	// their reads before this one's bookkeeping (calibration, the sink,
	// scheduling the next read) runs: on one slow core that bookkeeping,
	// times forty sensors, is what makes the last read of a slot late.
	runtime.Gosched()
	if onTime {
		r.mu.Lock()
		r.late.add(late)
		r.mu.Unlock()
	}
	timedOut := rctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil && ctx.Err() != nil {
		return // shutting down: not the sensor's fault
	}

	var rs []reading.Reading
	var bad, oor []error
	switch {
	case err != nil && timedOut:
		err = fmt.Errorf("timed out after %s: %w", r.timeout, err)
	case err == nil:
		var flags reading.Flags
		synced := s.synced()
		if !synced {
			flags |= reading.ClockUnsynced
		}
		if s.plaus != nil && !s.plaus(slot, s.now(), synced) {
			flags |= reading.TimeImplausible
		}
		if !r.fieldsChecked && len(vals) > 0 {
			r.fieldsChecked = true
			if miss := missingFields(r.fields, vals); len(miss) > 0 {
				r.log.Warn("calibration configured for fields this sensor does not produce; check the [sensor.fields.*] names",
					"missing", miss, "produced", fieldNames(vals))
			}
		}
		vals, oor = calibrate(r.fields, vals)
		rs, bad = toReadings(r.name, vals, slot, flags)
		// Values out of their configured range mean the sensor answered:
		// the read succeeds with nothing to store.
		if len(rs) == 0 && len(oor) == 0 {
			if len(bad) > 0 {
				err = fmt.Errorf("no usable value: %w", errors.Join(bad...))
			} else {
				err = errors.New("read returned no values")
			}
		}
	}
	if len(bad) > 0 {
		s.badValues(r, bad)
	}
	if len(oor) > 0 {
		s.outOfRange(r, oor)
	}
	if err != nil {
		s.failed(r, slot, dur, err)
		return
	}

	if len(rs) > 0 {
		s.sink.Append(rs)
	}
	s.progress.Add(1)
	var recovered uint64
	r.count(func(st *SensorStats) {
		recovered = st.ConsecutiveErrors
		st.Reads++
		st.ConsecutiveErrors = 0
		st.NotFitted, st.TimedOut = false, false
		st.LastRead = slot
		st.LastDuration = dur
	})
	if recovered > 0 {
		r.log.Info(fmt.Sprintf("sensor recovered after %d errors", recovered), "errors", recovered)
	}
}

// failed records a failed read, logs it with rate limiting, and closes the
// sensor once it has failed reopenAfter times in a row.
func (s *Sampler) failed(r *runner, slot time.Time, dur time.Duration, err error) {
	notFitted := errors.Is(err, ErrNotFitted)
	var k uint64
	r.count(func(st *SensorStats) {
		st.Errors++
		st.ConsecutiveErrors++
		k = st.ConsecutiveErrors
		st.NotFitted = notFitted
		st.TimedOut = errors.Is(err, context.DeadlineExceeded)
		st.LastError = err.Error()
		st.LastErrorTime = slot
		st.LastDuration = dur
	})
	switch {
	case notFitted:
		// Expected on a box built without this part: say it once, quietly.
		if !r.notFittedLogged {
			r.notFittedLogged = true
			r.log.Info("sensor not fitted; retrying quietly", "err", err, "retry_every", maxBackoff.String())
		}
	case k == 1:
		r.log.Warn("sensor read failed", "err", err)
	case k%logEvery == 0:
		r.log.Warn("sensor still failing", "errors", k, "err", err, "retry_every", backoff(k, r.iv).String())
	}
	if k >= reopenAfter {
		if cerr := r.sensor.Close(); cerr != nil {
			r.log.Debug("closing failing sensor", "err", cerr)
		}
	}
}

// badValues counts dropped values and logs them at the 1st, 10th, 100th …
// read that had any.
func (s *Sampler) badValues(r *runner, bad []error) {
	r.count(func(st *SensorStats) { st.BadValues += uint64(len(bad)) })
	r.badLogged++
	if isPow10(r.badLogged) {
		r.log.Warn("sensor values dropped", "reads_with_bad_values", r.badLogged, "err", errors.Join(bad...))
	}
}

// outOfRange counts values outside their configured [min, max] and logs
// them like badValues.
func (s *Sampler) outOfRange(r *runner, oor []error) {
	r.count(func(st *SensorStats) { st.OutOfRange += uint64(len(oor)) })
	r.oorLogged++
	if isPow10(r.oorLogged) {
		r.log.Warn("sensor values out of range; not stored", "reads_with_out_of_range", r.oorLogged, "err", errors.Join(oor...))
	}
}

func fieldNames(vals []Value) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.Field
	}
	return out
}

func isPow10(n uint64) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// count updates the runner's stats under its lock.
func (r *runner) count(f func(*SensorStats)) {
	r.mu.Lock()
	f(&r.st)
	r.mu.Unlock()
}

// ReadNow reads the running sensor called name once, outside its schedule
// and without buffering the result (the remote `read` command). It shares
// the sampler's instance, never overlapping a scheduled read, so a real bus
// sees one user.
func (s *Sampler) ReadNow(ctx context.Context, name string) ([]reading.Reading, error) {
	for _, r := range s.runners {
		if r.name != name {
			continue
		}
		if r.invalid != "" {
			return nil, fmt.Errorf("sensor %s (%s): not scheduled: %s", r.name, r.driver, r.invalid)
		}
		r.readMu.Lock()
		defer r.readMu.Unlock()
		return readNow(ctx, r.sensor, r.name, r.driver, r.timeout, r.fields)
	}
	return nil, fmt.Errorf("sensor %s: not running (disabled or not configured)", name)
}
