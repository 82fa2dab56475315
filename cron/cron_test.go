package cron

import (
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"* * * *":       "want 5 fields",
		"60 * * * *":    "minute: \"60\"",
		"* 24 * * *":    "hour",
		"* * 0 * *":     "day-of-month",
		"* * * 13 *":    "month",
		"* * * * 8":     "day-of-week",
		"5-1 * * * *":   "runs backwards",
		"*/0 * * * *":   "invalid step",
		"1,,2 * * * *":  "empty item",
		"a * * * *":     "minute",
		"* * * foo *":   "month",
		"*/x * * * *":   "invalid step",
		"0 6 * * * 30m": "want 5 fields",
	} {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", spec, err, want)
		}
	}
}

func TestNext(t *testing.T) {
	base := time.Date(2026, 11, 22, 10, 7, 30, 0, time.UTC) // a Sunday
	for _, c := range []struct {
		spec string
		from time.Time
		want string
	}{
		{"* * * * *", base, "2026-11-22 10:08"},
		{"0 6 * * *", base, "2026-11-23 06:00"},
		{"*/15 * * * *", base, "2026-11-22 10:15"},
		{"5/20 * * * *", base, "2026-11-22 10:25"},
		{"0-10/5 10 * * *", base, "2026-11-22 10:10"},
		{"30 9,12,18 * * *", base, "2026-11-22 12:30"},
		{"0 0 1 * *", base, "2026-12-01 00:00"},
		{"0 0 * * mon-fri", base, "2026-11-23 00:00"},
		{"0 12 * * 7", base, "2026-11-22 12:00"},      // 7 is Sunday
		{"0 0 1 jan *", base, "2027-01-01 00:00"},     // names, year wrap
		{"0 0 13 * fri", base, "2026-11-27 00:00"},    // dom or dow: Friday 27th first
		{"0 0 29 2 *", base, "2028-02-29 00:00"},      // leap day
		{"7 10 * * *", base, "2026-11-23 10:07"},      // strictly after, minute resolution
		{"8 10 22 nov sun", base, "2026-11-22 10:08"}, // both restricted, both match
	} {
		s, err := Parse(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		got := s.Next(c.from)
		if got.Format("2006-01-02 15:04") != c.want {
			t.Errorf("%q.Next(%s) = %s, want %s", c.spec, c.from.Format(time.DateTime), got.Format("2006-01-02 15:04"), c.want)
		}
		if !s.Match(got) {
			t.Errorf("%q does not Match its own Next %s", c.spec, got)
		}
	}
	if got := MustParse("0 0 31 2 *").Next(base); !got.IsZero() {
		t.Errorf("Feb 31 matched %s", got)
	}
	if (Schedule{}).Next(base) != (time.Time{}) {
		t.Error("zero Schedule matched")
	}
	// a location with a half-hour offset keeps hours aligned locally
	ist := time.FixedZone("IST", 5*3600+1800)
	got := MustParse("0 6 * * *").Next(time.Date(2026, 11, 22, 5, 10, 0, 0, ist))
	if got.Format("15:04") != "06:00" || got.Day() != 22 {
		t.Errorf("IST: %s", got)
	}
}

func TestMatch(t *testing.T) {
	s := MustParse("*/10 6-8 * * 1-5")
	if !s.Match(time.Date(2026, 11, 23, 7, 20, 0, 0, time.UTC)) { // Monday
		t.Error("Monday 07:20 not matched")
	}
	if s.Match(time.Date(2026, 11, 22, 7, 20, 0, 0, time.UTC)) { // Sunday
		t.Error("Sunday matched")
	}
	if s.Match(time.Date(2026, 11, 23, 7, 21, 0, 0, time.UTC)) {
		t.Error("07:21 matched")
	}
	if s.String() != "*/10 6-8 * * 1-5" {
		t.Errorf("String %q", s)
	}
}

func BenchmarkNextYearly(b *testing.B) {
	s := MustParse("0 0 29 2 *")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.Next(t0)
	}
}
