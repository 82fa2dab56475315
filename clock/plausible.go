package clock

import (
	"time"
)

// buildDate is stamped by the build (-ldflags "-X
// github.com/karana-energy/karana-edge/clock.buildDate=2026-11-22"); a
// build without it uses releaseDate. A reading dated before the binary was
// built cannot be right: the clock is a stale fake-hwclock value or the
// 1970 epoch of a board that never had a saved time.
var buildDate string

// releaseDate is the fallback: the date of this source's release. Raise it
// with each release; it only has to be no later than the real build date.
const releaseDate = "2026-11-01"

// MaxFuture is how far ahead of a synchronized clock a reading may be
// dated before it is implausible.
const MaxFuture = time.Hour

// BuildDate is the earliest plausible reading time: the build date, or the
// release date when the binary was built without one (or with a bad one).
func BuildDate() time.Time {
	if buildDate != "" {
		if t, err := time.Parse(time.DateOnly, buildDate); err == nil {
			return t
		}
	}
	t, _ := time.Parse(time.DateOnly, releaseDate)
	return t
}

// Plausible reports whether a reading dated t can be right: not before the
// build date, and, when the clock is synchronized (only then is now worth
// comparing with), not more than MaxFuture after now.
func Plausible(t, now time.Time, synced bool) bool {
	if t.Before(BuildDate()) {
		return false
	}
	return !synced || !t.After(now.Add(MaxFuture))
}
