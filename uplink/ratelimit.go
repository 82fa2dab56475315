package uplink

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Rate limit ([mqtt] rate_limit = "2KiB/s"): a token bucket in front of
// every data publish, shared by the streams, so a backlog drain does not
// saturate a 2G link that a modem's other users (SSH, updates) also need.
// Costs are the budget's wire bytes (payload plus MQTT overhead). The bucket
// holds max(2 s of rate, the largest max_batch_bytes) so that any bounded
// batch can go out at once after a quiet spell. A batch bigger than the
// bucket waits for a full bucket and then goes, whole: the bucket goes into
// debt and the next batches wait longer, so the average rate holds and
// nothing is split or dropped.

// Rate is a byte rate written "2KiB/s" (sizes as config.Size); 0: no limit.
type Rate int64

// ParseRate parses "<size>/s".
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	amount, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || strings.TrimSpace(per) != "s" {
		return 0, fmt.Errorf("rate %q: want <size>/s, e.g. \"2KiB/s\"", s)
	}
	z, err := config.ParseSize(amount)
	if err != nil || z <= 0 {
		return 0, fmt.Errorf("rate %q: want a positive size such as 2KiB before \"/s\"", s)
	}
	return Rate(z), nil
}

func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r Rate) String() string {
	if r <= 0 {
		return ""
	}
	return config.Size(r).String() + "/s"
}

// limiter is the token bucket; nil: no limit.
type limiter struct {
	rate, burst float64
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration, done <-chan struct{}) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(r Rate, maxBatch int64) *limiter {
	if r <= 0 {
		return nil
	}
	l := &limiter{rate: float64(r), now: time.Now, sleep: sleepFor}
	l.burst = max(2*l.rate, float64(maxBatch))
	l.tokens, l.last = l.burst, l.now()
	return l
}

func sleepFor(ctx context.Context, d time.Duration, done <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return errSessionDone
	}
}

var errSessionDone = fmt.Errorf("connection lost while waiting for the rate limit")

// take waits until n bytes may go (or ctx or done ends the wait) and takes
// them.
func (l *limiter) take(ctx context.Context, n int64, done <-chan struct{}) error {
	if l == nil {
		return nil
	}
	for {
		l.mu.Lock()
		now := l.now()
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		need := min(float64(n), l.burst)
		if l.tokens >= need {
			l.tokens -= float64(n)
			l.mu.Unlock()
			return nil
		}
		d := time.Duration((need - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		if err := l.sleep(ctx, max(d, time.Millisecond), done); err != nil {
			return err
		}
	}
}
