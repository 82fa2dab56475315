package uplink

import (
	"context"
	"path"
	"time"
)

// Urgent makes every stream that matches series publish now instead of at
// its period's end: an alarm changed and its reading is committed. A
// stream outside [mqtt] windows waits for the link as ever, except that
// the wait for an essential stream's data is cut short at once (the link
// comes up for it, as for any essential reading, past a spent budget
// too); a stream held by the data budget stays held unless essential.
func (u *Uplink) Urgent(series string) {
	woke := false
	for _, s := range u.list() {
		if !matchesAny(s.cfg.Match, series) {
			continue
		}
		s.poke()
		woke = woke || s.cfg.Essential
	}
	if woke {
		select {
		case u.urgent <- struct{}{}:
		default:
		}
	}
}

// matchesAny applies globs as streams do, without the stream's cache
// (which belongs to its goroutine).
func matchesAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok || g == "*" {
			return true
		}
	}
	return false
}

// sleepUrgent sleeps d, or until ctx is done or Urgent woke an essential
// stream.
func (u *Uplink) sleepUrgent(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-u.urgent:
	}
}
