package buffer

import (
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// fakeClock is a box's clocks: the boot clock runs, the wall clock is the
// boot clock plus an offset that a step (NTP, fake-hwclock) changes.
type fakeClock struct {
	boot   string
	bt     time.Duration // CLOCK_BOOTTIME
	off    time.Duration // wall minus boot time
	synced bool
}

func (c *fakeClock) wall() time.Time { return time.Unix(0, int64(c.bt+c.off)).UTC() }

func (c *fakeClock) ringClock() Clock {
	return Clock{
		BootID: c.boot,
		Offset: func() (time.Duration, bool) { return c.off, true },
		Synced: func() bool { return c.synced },
		Now:    c.wall,
		Plausible: func(t, now time.Time, synced bool) bool {
			return !t.Before(t0.AddDate(0, -1, 0)) && !(synced && t.After(now.Add(time.Hour)))
		},
	}
}

// sample makes one reading the way the sampler does: stamped by the wall
// clock, flagged when the clock is not synchronized.
func (c *fakeClock) sample(name string, v float64) reading.Reading {
	r := reading.Reading{Name: name, Unit: "V", Time: c.wall(), Value: v}
	if !c.synced {
		r.Flags = reading.ClockUnsynced
	}
	return r
}

var (
	trueOff  = time.Duration(t0.UnixNano())                          // the box booted at t0
	staleOff = time.Duration(t0.Add(-3 * 24 * time.Hour).UnixNano()) // fake-hwclock: 3 days behind
)

func TestClockCorrectedOnSync(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, 8<<20, tuning{})
	c := &fakeClock{boot: "boot-a", bt: 20 * time.Second, off: staleOff}
	r.SetClock(c.ringClock())

	// Before the sync: stale stamps, flagged; a fake-hwclock step of an
	// hour in the middle of one commit makes a second epoch.
	var truth []time.Time // true sample times, by value
	for i := 0; i < 6; i++ {
		if i == 3 {
			c.off += time.Hour // still unsynced: a step, not a sync
		}
		r.Append([]reading.Reading{c.sample("a.v", float64(i))})
		truth = append(truth, t0.Add(c.bt))
		c.bt += 10 * time.Second
	}
	mustFlush(t, r)
	for _, x := range readAll(t, r, 0) {
		if x.Flags != reading.ClockUnsynced {
			t.Errorf("before sync: reading %v flags %b, want unsynced only (a stale 3-day-old date is still after the build date here)", x.Value, x.Flags)
		}
	}

	// NTP steps the clock to the truth and it is synced.
	c.off, c.synced = trueOff, true
	r.MarkSynced(c.boot, c.off)
	r.Append([]reading.Reading{c.sample("a.v", 6)})
	truth = append(truth, t0.Add(c.bt))
	c.bt += 10 * time.Second
	mustFlush(t, r)

	check := func(when string, rs []reading.Reading, n int) {
		t.Helper()
		if len(rs) < n {
			t.Fatalf("%s: %d readings, want at least %d", when, len(rs), n)
		}
		for i, x := range rs[:n] {
			if !x.Time.Equal(truth[int(x.Value)]) {
				t.Errorf("%s: reading %v at %s, want its true time %s", when, x.Value, x.Time, truth[int(x.Value)])
			}
			want := reading.ClockCorrected
			if i == 6 {
				want = 0
			}
			if x.Flags != want {
				t.Errorf("%s: reading %v flags %b, want %b", when, x.Value, x.Flags, want)
			}
		}
	}
	check("after sync", readAll(t, r, 0), 7)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// A later boot that never syncs: its readings keep the raw stale time
	// and the flag; the earlier boot's evidence survived the reopen.
	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	c = &fakeClock{boot: "boot-b", bt: 5 * time.Second, off: staleOff}
	r.SetClock(c.ringClock())
	stale := c.wall()
	r.Append([]reading.Reading{c.sample("a.v", 7)})
	mustFlush(t, r)
	rs := readAll(t, r, 0)
	check("after reopen", rs, 7)
	if x := rs[7]; x.Flags != reading.ClockUnsynced || !x.Time.Equal(stale) {
		t.Errorf("never-synced boot: reading at %s flags %b, want the raw %s and unsynced", x.Time, x.Flags, stale)
	}

	// A box whose saved clock is before the build date: the reading is kept
	// and sent, flagged implausible.
	c.off = time.Duration(time.Unix(0, 0).UnixNano())
	r.Append([]reading.Reading{c.sample("a.v", 8)})
	mustFlush(t, r)
	rs = readAll(t, r, 0)
	if x := rs[len(rs)-1]; x.Flags != reading.ClockUnsynced|reading.TimeImplausible {
		t.Errorf("1970 reading flags %b, want unsynced and implausible", x.Flags)
	}
}

func TestClockFutureFlaggedWhenSynced(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	c := &fakeClock{boot: "boot-a", bt: time.Minute, off: trueOff + 48*time.Hour}
	r.SetClock(c.ringClock())
	r.Append([]reading.Reading{c.sample("a.v", 1)}) // unsynced, clock two days ahead
	mustFlush(t, r)
	if x := readAll(t, r, 0)[0]; x.Flags != reading.ClockUnsynced {
		t.Errorf("unsynced clock: flags %b; with no trusted now the future cannot be judged", x.Flags)
	}
	// The clock is stepped back and synced, but this boot's sync is not
	// known to the buffer (say, a sync record lost): the reading now lies
	// two days in the future of a trusted clock.
	c.off, c.synced = trueOff, true
	if x := readAll(t, r, 0)[0]; x.Flags != reading.ClockUnsynced|reading.TimeImplausible {
		t.Errorf("future reading flags %b, want unsynced and implausible", x.Flags)
	}
	r.MarkSynced(c.boot, c.off)
	mustFlush(t, r)
	if x := readAll(t, r, 0)[0]; x.Flags != reading.ClockCorrected || !x.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("after the sync record: %s flags %b, want %s corrected", x.Time, x.Flags, t0.Add(time.Minute))
	}
}

func TestClockRecordsPruned(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{pruneBytes: -1})
	defer r.Close()
	r.SetStreams([]string{"s"})
	for i, boot := range []string{"b1", "b2", "b3"} {
		c := &fakeClock{boot: boot, bt: time.Second, off: staleOff + time.Duration(i)*time.Hour}
		r.SetClock(c.ringClock())
		for k := 0; k < 300; k++ { // enough to seal blocks
			r.Append([]reading.Reading{c.sample("a.v", float64(i*1000+k))})
			c.bt += time.Second
		}
		r.MarkSynced(boot, trueOff)
		mustFlush(t, r)
	}
	if n := len(r.st.clk); n != 3 {
		t.Fatalf("%d clock records, want 3", n)
	}
	r.Ack("s", r.st.nextSeq-2)
	mustFlush(t, r)
	rs := readAll(t, r, 0)
	if len(rs) == 0 || len(rs) > 300 {
		t.Fatalf("after pruning %d readings remain, want some of the last boot's", len(rs))
	}
	for _, x := range rs {
		if x.Flags != reading.ClockCorrected || !x.Time.Equal(t0.Add(time.Duration(int(x.Value)%1000+1)*time.Second)) {
			t.Fatalf("after pruning: %+v, want corrected to its boot time", x)
		}
	}
	if n, ns := len(r.st.clk), len(r.st.syn); n != 1 || ns != 1 {
		t.Errorf("after pruning: %d clock records and %d sync records, want 1 and 1", n, ns)
	}
}

func TestClockStepBackInterleaved(t *testing.T) {
	// An unsynced clock stepped back 25 s in the middle of a commit window:
	// the two epochs' stamps interleave in time order, yet each reading is
	// re-stamped by its own epoch's offset.
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	c := &fakeClock{boot: "boot-a", bt: time.Minute, off: staleOff}
	r.SetClock(c.ringClock())
	var truth []time.Time
	for i := 0; i < 8; i++ {
		if i == 4 {
			c.off -= 25 * time.Second
		}
		r.Append([]reading.Reading{c.sample("a.v", float64(i))})
		truth = append(truth, t0.Add(c.bt))
		c.bt += 10 * time.Second
	}
	mustFlush(t, r)
	c.off, c.synced = trueOff, true
	r.MarkSynced(c.boot, c.off)
	mustFlush(t, r)
	rs := readAll(t, r, 0)
	if len(rs) != 8 {
		t.Fatalf("%d readings, want 8", len(rs))
	}
	for _, x := range rs {
		if want := truth[int(x.Value)]; x.Flags != reading.ClockCorrected || !x.Time.Equal(want) {
			t.Errorf("reading %v (seq %d): %s flags %b, want %s corrected", x.Value, x.Seq, x.Time, x.Flags, want)
		}
	}
	if n := len(r.st.clk); n < 3 {
		t.Errorf("%d clock records for interleaved epochs, want one per switch (>= 3)", n)
	}
}

func TestClockSyncRecordOnlyWhenNeeded(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	c := &fakeClock{boot: "boot-a", bt: time.Minute, off: trueOff, synced: true}
	r.SetClock(c.ringClock())
	// Synced from the start: the sync is noted but nothing is kept on disk.
	r.MarkSynced(c.boot, c.off)
	r.Append([]reading.Reading{c.sample("a.v", 1)})
	mustFlush(t, r)
	if len(r.st.syn) != 0 || len(r.st.clk) != 0 {
		t.Errorf("synced box keeps clock records: %v %v", r.st.clk, r.st.syn)
	}
	// A reading sampled just before the sync, appended after the sync was
	// committed (a slow sensor): still corrected.
	c.synced = false
	late := c.sample("a.v", 2)
	late.Time = late.Time.Add(-time.Hour) // its stale stamp
	c.off -= time.Hour
	r.SetClock(c.ringClock())
	r.Append([]reading.Reading{late})
	mustFlush(t, r)
	rs := readAll(t, r, 0)
	if x := rs[1]; x.Flags != reading.ClockCorrected || !x.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("late unsynced reading: %s flags %b, want %s corrected", x.Time, x.Flags, t0.Add(time.Minute))
	}
}
