package cron

import (
	"strconv"
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
	// Feb 29 on a Sunday ("*/7" is Sunday and, starting with '*', ANDs
	// with the day of month): 2032, then 40 years apart across 2100, which
	// is no leap year (dates from Python's calendar)
	for from, want := range map[time.Time]string{
		base: "2032-02-29 00:00",
		time.Date(2088, 3, 1, 0, 0, 0, 0, time.UTC): "2128-02-29 00:00",
	} {
		if got := MustParse("0 0 29 2 */7").Next(from); got.Format("2006-01-02 15:04") != want {
			t.Errorf("Feb 29 on a Sunday after %s: %s, want %s", from.Format(time.DateOnly), got, want)
		}
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

// TestNeverFires: a schedule no date can match is a parse error, so that a
// sensor schedule or a link window that would never fire fails `check`
// instead of leaving a sensor unread or the link down for good.
func TestNeverFires(t *testing.T) {
	for _, spec := range []string{
		"0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "0 0 30,31 feb *",
		"0 0 30 2 */1", // '*' first: day of month AND day of week
		"0 0 31 4-6/2 *",
	} {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), "never fires") {
			t.Errorf("Parse(%q) = %v, want a never-fires error", spec, err)
		}
	}
	for _, spec := range []string{
		"0 0 29 2 *", "0 0 29 2 */7", "0 0 31 1-4 *", "0 0 */30 2 *",
		"0 0 30 2 mon", // both restricted: day of month OR day of week
	} {
		if _, err := Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

// TestNeverFiresAgreesWithTheCalendar checks Parse's verdict against a walk
// over every day of a whole Gregorian cycle (400 years, after which dates
// and weekdays repeat), for days of month, months and weekdays around the
// short months' ends.
func TestNeverFiresAgreesWithTheCalendar(t *testing.T) {
	// one day for each (month, day, weekday) the cycle holds: the verdict
	// depends on nothing else
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var days []time.Time
	seen := map[[3]int]bool{}
	for d := start; d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		if k := [3]int{int(d.Month()), d.Day(), int(d.Weekday())}; !seen[k] {
			seen[k] = true
			days = append(days, d)
		}
	}
	for _, dom := range []string{"28", "29", "30", "31", "29-31", "30,31", "*/29", "*/30", "*"} {
		for _, month := range []string{"2", "4", "2,4", "2,3", "4-6/2", "*"} {
			for _, dow := range []string{"*", "*/7", "sun", "*/2"} {
				spec := "0 0 " + dom + " " + month + " " + dow
				s, err := Parse(spec)
				fires := false
				for _, d := range days {
					if fires = fieldsMatch(t, spec, d); fires {
						break
					}
				}
				if (err == nil) != fires {
					t.Errorf("Parse(%q) = %v, but a day matches over 400 years: %v", spec, err, fires)
				}
				if err == nil && s.Next(start).IsZero() {
					t.Errorf("%q: Next found nothing", spec)
				}
			}
		}
	}
}

// fieldsMatch is the day part of cron matching written out from the man
// page (crontab(5)), independent of Schedule: both day fields restricted
// match either; otherwise both must match.
func fieldsMatch(t *testing.T, spec string, d time.Time) bool {
	f := strings.Fields(spec)
	in := func(field string, v, lo, hi int) bool {
		for _, part := range strings.Split(field, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			a, b := lo, hi
			if rng != "*" {
				x, y, isRange := strings.Cut(rng, "-")
				a = atoiName(t, x)
				b = a
				if isRange {
					b = atoiName(t, y)
				} else if hasStep {
					b = hi
				}
			}
			n := 1
			if hasStep {
				n = atoiName(t, step)
			}
			for i := a; i <= b; i += n {
				if i == v || (hi == 7 && i == 7 && v == 0) {
					return true
				}
			}
		}
		return false
	}
	if !in(f[3], int(d.Month()), 1, 12) {
		return false
	}
	dom, dow := in(f[2], d.Day(), 1, 31), in(f[4], int(d.Weekday()), 0, 7)
	if !strings.HasPrefix(f[2], "*") && !strings.HasPrefix(f[4], "*") {
		return dom || dow
	}
	return dom && dow
}

func atoiName(t *testing.T, s string) int {
	switch s {
	case "sun":
		return 0
	case "feb":
		return 2
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("test spec value %q", s)
	}
	return n
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
