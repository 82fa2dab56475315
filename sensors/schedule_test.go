package sensors

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A scheduled sensor reads at each matching minute, stamped with that
// minute, and never at other times. The wall clock runs 3000× fast, so a
// simulated half hour takes under a second.
func TestScheduleReadsAtMatchingMinutes(t *testing.T) {
	base, realStart := time.Date(2026, 3, 2, 5, 58, 30, 0, time.Local), time.Now()
	now := func() time.Time { return base.Add(time.Since(realStart) * 3000) }
	f := &fake{}
	c := cfg("battery_test", time.Hour, 5*time.Second)
	c.Schedule = []string{"0 6 * * *", "*/10 6 * * *"}
	s, stop := runFast(t, []Configured{{c, f}}, SamplerOptions{Now: now}, 3000)
	waitUntil(t, "reads at 06:00, 06:10 and 06:20", func() bool { return f.n.Load() >= 3 })
	stop()

	slots := f.readSlots()
	want := []time.Time{
		time.Date(2026, 3, 2, 6, 0, 0, 0, time.Local),
		time.Date(2026, 3, 2, 6, 10, 0, 0, time.Local),
		time.Date(2026, 3, 2, 6, 20, 0, 0, time.Local),
	}
	for i, w := range want {
		if i >= len(slots) || !slots[i].Equal(w) {
			t.Fatalf("read slots %v, want to start with %v", slots, want)
		}
	}
	if st := statsOf(s, "battery_test"); st.Reads < 3 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A slot the clock jumps over (a box booting with a stale clock, then NTP)
// is skipped and counted, not read with a stale time.
func TestScheduleSkipsSlotsTheClockJumpsOver(t *testing.T) {
	realStart := time.Now()
	base := time.Date(2026, 3, 2, 5, 59, 50, 0, time.Local)
	jumped, calls := false, 0
	now := func() time.Time {
		// The first look at the clock is pinned to base, so 06:00 is the
		// slot the sampler waits for however slowly it starts (qemu on a
		// loaded CI box took longer than the 10 fast seconds to 06:00).
		if calls++; calls == 1 {
			return base
		}
		el := time.Since(realStart) * 1000
		if el > 5*time.Second { // 5 s of fast time in: the clock jumps an hour
			jumped = true
			return base.Add(el + time.Hour)
		}
		return base.Add(el)
	}
	f := &fake{}
	c := cfg("capacity", time.Hour, 5*time.Second)
	c.Schedule = []string{"0 6 * * *", "5 7 * * *"}
	s, stop := runFast(t, []Configured{{c, f}}, SamplerOptions{Now: now}, 1000)
	waitUntil(t, "the 07:05 read", func() bool { return f.n.Load() >= 1 })
	stop()
	if !jumped {
		t.Fatal("the fake clock never jumped; the test proves nothing")
	}
	slots := f.readSlots()
	if !slots[0].Equal(time.Date(2026, 3, 2, 7, 5, 0, 0, time.Local)) {
		t.Errorf("first read at %v, want 07:05 (06:00 was jumped over)", slots[0])
	}
	if st := statsOf(s, "capacity"); st.SkippedSlots != 1 {
		t.Errorf("skipped %d slots, want 1 (06:00)", st.SkippedSlots)
	}
}

func TestScheduleValidation(t *testing.T) {
	c := cfg("x", time.Minute, time.Second)
	c.Driver = "sim"
	c.Schedule = []string{"0 6 * * *", "61 * * * *"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "schedule[1]") {
		t.Fatalf("Validate = %v, want an error on schedule[1]", err)
	}
}

// ReadNow shares the running sensor and never overlaps its scheduled reads.
func TestReadNowSharesTheRunningSensor(t *testing.T) {
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		time.Sleep(5 * time.Millisecond)
		return []Value{{Field: "v", Value: float64(n), Unit: "u"}}, nil
	}}
	iv := 10 * time.Millisecond
	s, stop := run(t, []Configured{{cfg("slow", iv, iv), f}}, nil, SamplerOptions{})
	for i := 0; i < 20; i++ {
		rs, err := s.ReadNow(context.Background(), "slow")
		if err != nil || len(rs) != 1 || rs[0].Name != "slow.v" {
			t.Fatalf("ReadNow: %v %v", rs, err)
		}
	}
	if _, err := s.ReadNow(context.Background(), "absent"); err == nil {
		t.Error("ReadNow of an unknown sensor did not fail")
	}
	stop()
	if f.overlap.Load() {
		t.Error("a ReadNow overlapped a scheduled read")
	}
	if f.closes.Load() != 1 {
		t.Errorf("sensor closed %d times, want once at stop (ReadNow must not close it)", f.closes.Load())
	}
}
