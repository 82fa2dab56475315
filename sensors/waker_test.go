package sensors

import (
	"fmt"
	"testing"
	"time"
)

// Every sleeper is released, never before its deadline, however the
// registrations re-arm the alarm; a cancelled one never is. Run against the
// platform's alarm and the portable one.
func TestWakerReleasesAtDeadlines(t *testing.T) {
	for name, mk := range map[string]func() alarm{
		"platform": newAlarm,
		"portable": func() alarm { return newTimerAlarm() },
	} {
		t.Run(name, func(t *testing.T) {
			w := newWaker(mk(), nil)
			stopped := make(chan struct{})
			go func() { w.run(); close(stopped) }()

			// Latest first, so that most registrations move the alarm
			// earlier; zero and negative are due at once.
			var sls []*sleeper
			for _, d := range []time.Duration{40, 30, 20, 10, 10, 0, -5} {
				sls = append(sls, w.after(time.Now(), d*time.Millisecond))
			}
			gone := w.after(time.Now(), 15*time.Millisecond)
			w.cancel(gone)
			for i, sl := range sls {
				select {
				case <-sl.ch:
				case <-time.After(10 * time.Second):
					t.Fatalf("sleeper %d (due %s) not released after 10s", i, time.Until(sl.at))
				}
				if early := sl.at.Sub(time.Now()); early > 0 {
					t.Errorf("sleeper %d released %s before its deadline", i, early)
				}
			}
			select {
			case <-gone.ch:
				t.Error("a cancelled sleeper was released")
			default:
			}

			w.stop()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("waker still running 10s after stop")
			}
			w.after(time.Now(), time.Millisecond) // after stop: harmless
		})
	}
}

// The real time a sleep takes goes through the realTime seam (tests that
// run the wall clock fast): a day of sampler time, divided down, wakes.
func TestWakerRealTimeSeam(t *testing.T) {
	w := newWaker(newAlarm(), func(d time.Duration) time.Duration { return d / 1_000_000 })
	go w.run()
	defer w.stop()
	sl := w.after(time.Now(), 24*time.Hour)
	select {
	case <-sl.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("a day at 10⁶× did not pass in 10s")
	}
}

// Sensors sharing a slot share a wake-up: without that, 20 sensors would
// cost 20 wake-ups a slot. Loose bound, so a loaded machine cannot fail it.
func TestSensorsSharingASlotShareAWakeUp(t *testing.T) {
	const n, iv = 20, 10 * time.Millisecond
	var list []Configured
	fakes := make([]*fake, n)
	for i := range fakes {
		fakes[i] = &fake{}
		list = append(list, Configured{cfg(fmt.Sprintf("s%02d", i), iv, iv), fakes[i]})
	}
	s, stop := run(t, list, nil, SamplerOptions{})
	waitUntil(t, "the first read", func() bool { return s.Progress() > 0 }) // then Run has made s.wake
	start, wakes0, reads0 := time.Now(), s.wake.wakes.Load(), s.Progress()
	waitUntil(t, "20 slots' reads", func() bool { return s.Progress() >= reads0+20*n })
	wakes, slots := s.wake.wakes.Load()-wakes0, uint64(time.Since(start)/iv)+2
	stop()
	if wakes > 4*slots {
		t.Errorf("%d timer wake-ups in %d slots for %d sensors sharing them, want about one a slot", wakes, slots, n)
	}
}
