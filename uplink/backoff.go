package uplink

import (
	"math/rand/v2"
	"time"
)

// backoff is the reconnect delay: exponential from min to max, each wait
// drawn uniformly from [min, ceiling] where the ceiling doubles per failed
// attempt (min*2, min*4, ... max). The draw spans the whole window ("full
// jitter" above the floor) because a broker restart disconnects a whole
// fleet in the same second: equal delays would bring every box back in the
// same second too, attempt after attempt.
type backoff struct {
	min, max time.Duration
	rand     func(n int64) int64 // uniform in [0, n); replaceable in tests
}

func newBackoff(min, max time.Duration) backoff {
	return backoff{min: min, max: max, rand: rand.Int64N}
}

// ceiling is the upper bound of the wait after attempt failures (attempt >= 0).
func (b backoff) ceiling(attempt int) time.Duration {
	c := b.min
	for i := 0; i <= attempt && c < b.max; i++ {
		if c > b.max/2 {
			return b.max
		}
		c *= 2
	}
	return min(c, b.max)
}

// wait returns the delay before the next try after attempt failures.
func (b backoff) wait(attempt int) time.Duration {
	c := b.ceiling(attempt)
	if c <= b.min {
		return b.min
	}
	return b.min + time.Duration(b.rand(int64(c-b.min)+1))
}
