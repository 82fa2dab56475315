package sensors

import (
	"context"
	"time"

	"github.com/karana-energy/karana-edge/cron"
)

// missedGrace is how late a cron slot may be read: past it (the clock
// stepped forward, say from a stale boot time to NTP's) the slot is skipped
// and counted rather than read with a time that is no longer now.
const missedGrace = time.Minute

// parseSchedule turns a sensor's schedule expressions into schedules; the
// config was validated, so an error here names a programming mistake.
func parseSchedule(specs []string) ([]cron.Schedule, string) {
	out := make([]cron.Schedule, 0, len(specs))
	for _, spec := range specs {
		s, err := cron.Parse(spec)
		if err != nil {
			return nil, "schedule " + spec + ": " + err.Error()
		}
		out = append(out, s)
	}
	return out, ""
}

// nextMatch is the earliest time after t at which any schedule matches, in
// the box's local zone; zero when none ever does.
func nextMatch(scheds []cron.Schedule, t time.Time) time.Time {
	var best time.Time
	for _, s := range scheds {
		if n := s.Next(t.In(time.Local)); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best
}

// cronLoop reads a scheduled sensor at each matching minute. It shares the
// interval loop's rules where they apply: wake at least every maxSleep to
// see clock steps, never read the same slot twice, skip (and count) a slot
// the clock jumped over. A failed read simply waits for the next match:
// schedules are sparse, so there is nothing to back off from.
func (s *Sampler) cronLoop(ctx context.Context, r *runner) {
	defer close(r.done)
	var last time.Time
	for {
		next := nextMatch(r.sched, s.now())
		if !last.IsZero() && !next.After(last) {
			next = nextMatch(r.sched, last)
		}
		if next.IsZero() {
			r.log.Warn("schedule never matches; sensor idle", "schedule", r.schedSpec)
			<-ctx.Done()
			return
		}
		now, _, _, ok := s.sleepUntil(ctx, next)
		if !ok {
			return
		}
		if now.Before(next) {
			continue // woke to look at the clock again
		}
		if now.Sub(next) > missedGrace {
			r.count(func(st *SensorStats) { st.SkippedSlots++ })
			r.log.Info("scheduled slot passed while the clock jumped or the process stalled; skipped", "slot", next)
			last = next
			continue
		}
		s.sample(ctx, r, next.UTC(), true)
		if ctx.Err() != nil {
			return
		}
		last = next
	}
}
