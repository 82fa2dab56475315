package sensors

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// Why the sampler does not sleep on a time.Timer per sensor: the Go runtime
// waits for its timers in epoll_wait, whose timeout is whole milliseconds,
// so a timer fires up to a millisecond late (about 0.7 ms on average, and
// several under load), and forty sensors sharing a slot meant forty such
// wake-ups. Waking early and spinning out the rest was tried and dropped:
// per sensor it cost 2.5 % of a core for 50 sensors, and even one shared
// 1.5 ms spin per slot made p99 worse (2.8 ms) when another process wanted
// the same core, since the spinning thread burns its slice and is
// preempted for a whole scheduler slice.
//
// So every sleeper goes through one waker: a heap of deadlines and a single
// alarm armed for the earliest. When it fires, every sleeper whose deadline
// has passed is released at once (sensors sharing a slot have deadlines
// within a microsecond of each other), so a slot costs one wake-up, not one
// per sensor. On Linux the alarm is a timerfd read through the runtime's
// netpoller: the kernel's high-resolution timer makes the fd readable and
// epoll_wait returns at once, whatever its millisecond timeout, so the
// wake-up is tens of microseconds late and costs no CPU while waiting
// (alarm_linux.go). Elsewhere, or when the timerfd cannot be made, it is a
// plain time.Timer: correct, only as late as before.
//
// What lateness is left is the kernel's wake-up latency (a C program
// sleeping on a timerfd sees the same), the CPU each sensor ahead in the
// slot takes before its read starts (see the Gosched in sample), and, on a
// core saturated by other processes, the kernel's scheduler slice (~3 ms),
// which only a real-time scheduling policy for the daemon removes.

// alarm is a one-shot timer that one goroutine waits on while others set it.
type alarm interface {
	// set (re)arms the alarm to fire d from now, replacing any earlier
	// setting; d <= 0 fires as soon as possible. Safe to call concurrently
	// with wait, and after close (then it does nothing).
	set(d time.Duration)
	// wait blocks until the alarm fires (or, rarely, spuriously) and
	// returns false once the alarm is closed.
	wait() bool
	close()
}

// waker wakes sleepers at their deadlines, off one alarm.
type waker struct {
	alarm alarm
	// real maps a duration on the sampler's clock to real time: the
	// identity, except in tests that run the wall clock fast.
	real func(time.Duration) time.Duration

	wakes atomic.Uint64 // times the alarm went off; benchmarks report it

	mu sync.Mutex
	q  sleepers
}

// sleeper is one goroutine's pending wake-up; ch is closed at the deadline.
type sleeper struct {
	at  time.Time // real deadline (monotonic)
	ch  chan struct{}
	idx int // position in the heap; -1 once released or cancelled
}

func newWaker(a alarm, real func(time.Duration) time.Duration) *waker {
	if real == nil {
		real = func(d time.Duration) time.Duration { return d }
	}
	return &waker{alarm: a, real: real}
}

// after returns a sleeper whose channel is closed d (on the sampler's clock)
// after from, a reading of time.Now taken with the sampler's clock reading
// that d was computed from: sensors aiming at the same slot then get the
// same deadline to within nanoseconds, and share a wake-up.
func (w *waker) after(from time.Time, d time.Duration) *sleeper {
	sl := &sleeper{at: from.Add(w.real(d)), ch: make(chan struct{})}
	w.mu.Lock()
	heap.Push(&w.q, sl)
	if sl.idx == 0 {
		w.alarm.set(sl.at.Sub(time.Now()))
	}
	w.mu.Unlock()
	return sl
}

// cancel forgets a sleeper that is no longer waited for.
func (w *waker) cancel(sl *sleeper) {
	w.mu.Lock()
	if sl.idx >= 0 {
		heap.Remove(&w.q, sl.idx)
	}
	w.mu.Unlock()
}

// run releases sleepers as their deadlines pass, until the alarm is closed.
func (w *waker) run() {
	var due []*sleeper
	for w.alarm.wait() {
		w.wakes.Add(1)
		w.mu.Lock()
		now := time.Now()
		for len(w.q) > 0 && !w.q[0].at.After(now) {
			due = append(due, heap.Pop(&w.q).(*sleeper))
		}
		if len(w.q) > 0 {
			w.alarm.set(time.Until(w.q[0].at))
		}
		w.mu.Unlock()
		// Released outside the lock: a sensor that runs at once and
		// comes back to sleep must not find the lock taken.
		for i, sl := range due {
			close(sl.ch)
			due[i] = nil
		}
		due = due[:0]
	}
}

func (w *waker) stop() { w.alarm.close() }

// sleepers is a min-heap by deadline.
type sleepers []*sleeper

func (q sleepers) Len() int           { return len(q) }
func (q sleepers) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q sleepers) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx, q[j].idx = i, j
}
func (q *sleepers) Push(x any) {
	sl := x.(*sleeper)
	sl.idx = len(*q)
	*q = append(*q, sl)
}
func (q *sleepers) Pop() any {
	old := *q
	sl := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	sl.idx = -1
	return sl
}

// timerAlarm is the portable alarm: a time.Timer, millisecond-late on Linux.
type timerAlarm struct {
	t    *time.Timer
	done chan struct{}
	once sync.Once
}

func newTimerAlarm() *timerAlarm {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerAlarm{t: t, done: make(chan struct{})}
}

func (a *timerAlarm) set(d time.Duration) { a.t.Reset(d) }

func (a *timerAlarm) wait() bool {
	select {
	case <-a.t.C:
		return true
	case <-a.done:
		return false
	}
}

func (a *timerAlarm) close() {
	a.once.Do(func() {
		a.t.Stop()
		close(a.done)
	})
}
