package clock

import (
	"testing"
	"time"
)

func TestPlausible(t *testing.T) {
	old := buildDate
	t.Cleanup(func() { buildDate = old })
	buildDate = "2026-11-20"
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		t      time.Time
		synced bool
		want   bool
	}{
		{"now", now, true, true},
		{"1970 epoch of a board without saved time", time.Unix(0, 0), false, false},
		{"stale fake-hwclock before the build", time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC), false, false},
		{"two hours ahead of a synced clock", now.Add(2 * time.Hour), true, false},
		{"two hours ahead, clock unsynced: now means nothing", now.Add(2 * time.Hour), false, true},
		{"just under the future limit", now.Add(MaxFuture - time.Second), true, true},
	} {
		if got := Plausible(c.t, now, c.synced); got != c.want {
			t.Errorf("%s: Plausible(%s) = %v, want %v", c.name, c.t, got, c.want)
		}
	}
	buildDate = "garbage"
	if got, want := BuildDate().Format(time.DateOnly), releaseDate; got != want {
		t.Errorf("BuildDate with a bad stamp = %s, want the release date %s", got, want)
	}
}
