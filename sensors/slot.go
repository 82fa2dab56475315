package sensors

import (
	"context"
	"time"
)

type slotKey struct{}

// WithSlot returns a context that carries the time slot a read belongs to.
// The sampler sets it on every read so that a driver whose value depends on
// time (the simulator) computes it for the slot, not for the moment the
// goroutine happened to run.
func WithSlot(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, slotKey{}, t)
}

// Slot returns the slot time set by WithSlot.
func Slot(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(slotKey{}).(time.Time)
	return t, ok
}

// Slots are multiples of the interval counted from the Unix epoch, so a 10 s
// sensor reads at :00, :10, :20 on every box, and a 7 s one on the same
// instants everywhere too, even though 7 s does not divide a day.
// (time.Truncate counts from year 1, which agrees with the epoch only for
// intervals that divide a day.)

// slotAt returns the latest slot at or before t.
func slotAt(t time.Time, iv time.Duration) time.Time {
	ns := t.UnixNano()
	m := ns % int64(iv)
	if m < 0 { // before 1970: floor, not truncate towards zero
		m += int64(iv)
	}
	return time.Unix(0, ns-m).UTC()
}

// slotAfter returns the first slot strictly after t.
func slotAfter(t time.Time, iv time.Duration) time.Time {
	return slotAt(t, iv).Add(iv)
}

// slotFrom returns the first slot at or after t.
func slotFrom(t time.Time, iv time.Duration) time.Time {
	s := slotAt(t, iv)
	if s.Before(t) {
		s = s.Add(iv)
	}
	return s
}
