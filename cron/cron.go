// Package cron parses classic 5-field cron expressions (minute hour
// day-of-month month day-of-week) and finds the times they match. It is
// self-contained so that the uplink's link windows and sensor schedules
// share one parser.
//
// Syntax per field: "*", a number, a range "a-b", a step "*/n", "a-b/n" or
// "a/n" (a to the field's maximum), and comma lists of those. Months and
// weekdays also take three-letter English names (jan..dec, sun..sat);
// weekday 7 is Sunday like 0. As in Vixie cron, when both day-of-month and
// day-of-week are restricted (neither starts with "*"), a day matches if
// either does. Times are matched at minute resolution in the location of
// the time given: callers pass UTC for a fixed schedule (a box without RTC
// or time zone setup runs in UTC anyway).
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed expression.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domAny, dowAny                bool   // the field started with "*"
	spec                          string
}

type field struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i
}

var (
	fMinute = field{"minute", 0, 59, nil}
	fHour   = field{"hour", 0, 23, nil}
	fDom    = field{"day-of-month", 1, 31, nil}
	fMonth  = field{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	fDow    = field{"day-of-week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}
)

// Parse parses "minute hour day-of-month month day-of-week".
func Parse(spec string) (Schedule, error) {
	f := strings.Fields(spec)
	if len(f) != 5 {
		return Schedule{}, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", spec, len(f))
	}
	s := Schedule{spec: strings.Join(f, " ")}
	var err error
	for i, p := range []struct {
		fd  field
		dst *uint64
	}{{fMinute, &s.minute}, {fHour, &s.hour}, {fDom, &s.dom}, {fMonth, &s.month}, {fDow, &s.dow}} {
		if *p.dst, err = parseField(f[i], p.fd); err != nil {
			return Schedule{}, fmt.Errorf("cron %q: %w", spec, err)
		}
	}
	if s.dow&(1<<7) != 0 {
		s.dow |= 1 // 7 is Sunday
	}
	s.domAny, s.dowAny = strings.HasPrefix(f[2], "*"), strings.HasPrefix(f[4], "*")
	if !s.fires() {
		return Schedule{}, fmt.Errorf("cron %q: never fires: no month it names has a day of month it names (February has 29 days at most; April, June, September and November 30)", spec)
	}
	return s, nil
}

// daysIn is the longest each month gets (February in a leap year).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// fires reports whether some minute matches. Minute, hour and weekday are
// never empty once parsed, and over the 400-year Gregorian cycle every date
// (29 February too) falls on every weekday. So when the two day fields
// combine by OR, something matches; by AND, exactly when a month named has
// a day named.
func (s Schedule) fires() bool {
	if !s.domAny && !s.dowAny {
		return true
	}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) == 0 {
			continue
		}
		if s.dom&(1<<(daysIn[m]+1)-1) != 0 { // bits 1..daysIn[m]
			return true
		}
	}
	return false
}

// MustParse is Parse for expressions known valid; it panics otherwise.
func MustParse(spec string) Schedule {
	s, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

func parseField(s string, fd field) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		lo, hi := fd.min, fd.max
		switch {
		case rng == "*":
		case rng == "":
			return 0, fmt.Errorf("%s: empty item in %q", fd.name, s)
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = fd.value(a); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = fd.value(b); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("%s: range %q runs backwards", fd.name, rng)
				}
			} else if hasStep {
				hi = fd.max // "a/n": from a to the end
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > fd.max {
				return 0, fmt.Errorf("%s: invalid step %q in %q", fd.name, stepStr, part)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func (fd field) value(s string) (int, error) {
	for i, n := range fd.names {
		if strings.EqualFold(s, n) {
			return fd.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < fd.min || v > fd.max {
		return 0, fmt.Errorf("%s: %q is not a value from %d to %d", fd.name, s, fd.min, fd.max)
	}
	return v, nil
}

func (s Schedule) String() string { return s.spec }

// Match reports whether t's minute matches.
func (s Schedule) Match(t time.Time) bool {
	return s.month&(1<<int(t.Month())) != 0 && s.dayMatch(t) &&
		s.hour&(1<<t.Hour()) != 0 && s.minute&(1<<t.Minute()) != 0
}

func (s Schedule) dayMatch(t time.Time) bool {
	d := s.dom&(1<<t.Day()) != 0
	w := s.dow&(1<<int(t.Weekday())) != 0
	if !s.domAny && !s.dowAny {
		return d || w
	}
	return d && w
}

// Next returns the first matching minute strictly after t, in t's
// location; the zero time only for the zero Schedule. It searches a whole
// Gregorian cycle: the rarest schedule Parse accepts, 29 February on a given
// weekday, comes round 40 years apart across 2100, which is no leap year.
func (s Schedule) Next(t time.Time) time.Time {
	if s.minute == 0 {
		return time.Time{} // the zero Schedule
	}
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(400, 0, 0)
	for t.Before(limit) {
		switch {
		case s.month&(1<<int(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatch(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<t.Hour()) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case s.minute&(1<<t.Minute()) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}
