package sensors

import (
	"math"
	"slices"
	"time"
)

// SensorStats is one sensor's schedule and health, as the sampler saw it.
type SensorStats struct {
	Name     string        `json:"name"`
	Driver   string        `json:"driver"`
	Interval time.Duration `json:"interval"`

	Reads             uint64 `json:"reads"`              // successful reads
	Errors            uint64 `json:"errors"`             // failed reads (error, timeout, or no usable value)
	ConsecutiveErrors uint64 `json:"consecutive_errors"` // failed reads since the last success
	BadValues         uint64 `json:"bad_values"`         // values dropped: NaN, ±Inf, invalid series name
	// OutOfRange counts values dropped for being outside their field's
	// configured [min, max] (Config.Fields); such reads still count as Reads.
	OutOfRange uint64 `json:"out_of_range"`
	// SkippedSlots counts slots that passed without a read because the
	// previous read was still running (overrun) or the process was stalled.
	SkippedSlots uint64 `json:"skipped_slots"`
	// BackoffSlots counts slots deliberately left out while retrying a
	// failing sensor with backoff.
	BackoffSlots uint64 `json:"backoff_slots"`
	// Overrun is true when the last read ended after the next slot began.
	Overrun bool `json:"overrun"`
	// NotFitted is true while the sensor reports sensors.ErrNotFitted.
	NotFitted bool `json:"not_fitted"`
	// TimedOut is true while the last read failed with its timeout.
	TimedOut bool `json:"timed_out,omitempty"`

	LastError     string        `json:"last_error,omitempty"`
	LastErrorTime time.Time     `json:"last_error_time,omitzero"`
	LastRead      time.Time     `json:"last_read,omitzero"` // slot time of the last successful read
	LastDuration  time.Duration `json:"last_duration"`      // how long the last read took

	// LatenessP50 and LatenessP99 are how long after its slot time recent
	// reads started (the last 512 scheduled reads), taken as the driver's
	// Read is called: waking up, being scheduled and waiting for a ReadNow
	// to free the bus all count.
	LatenessP50 time.Duration `json:"lateness_p50"`
	LatenessP99 time.Duration `json:"lateness_p99"`
}

// latencies keeps the most recent lateness samples; percentiles over a
// fixed window cost nothing between Stats calls and follow changes in load.
type latencies struct {
	buf  [512]time.Duration
	n    int // samples stored, up to len(buf)
	next int // where the next sample goes
}

func (l *latencies) add(d time.Duration) {
	l.buf[l.next] = d
	l.next = (l.next + 1) % len(l.buf)
	if l.n < len(l.buf) {
		l.n++
	}
}

// percentiles returns the p-th percentiles (0 < p ≤ 100), nearest rank.
func (l *latencies) percentiles(ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if l.n == 0 {
		return out
	}
	s := slices.Clone(l.buf[:l.n])
	slices.Sort(s)
	for i, p := range ps {
		rank := int(math.Ceil(p/100*float64(len(s)))) - 1
		out[i] = s[min(max(rank, 0), len(s)-1)]
	}
	return out
}
