// Package edges counts debounced edges of a GPIO input on a goroutine of its
// own: the pulse counter (S0 energy meters, rain gauges, flow meters) and
// the frequency meter (anemometers) share it.
//
// Two bugs of periph host v3.8.5 (gpioioctl) shape it:
//   - WaitForEdge(-1) returns at once instead of waiting forever (only 0
//     waits forever, and then nothing but an edge or Halt wakes it), so the
//     goroutine waits with a finite timeout, in a loop that checks its stop
//     channel; Stop also calls Halt to cut the wait short;
//   - gpioutil.Debounce ignores its debounce and edge arguments, and the
//     kernel's edge timestamps are discarded, so debouncing is done here,
//     with the time the wait returned.
//
// # Debouncing
//
// With debounce > 0 the pin is watched on both edges and an edge only marks
// the level as unsettled; once no edge has come for the debounce time, the
// level is read, and a change of the settled level that matches the
// configured edge counts once. Contact bounce at closing (a burst of edges
// within a few ms) and at release (which a falling-edge-only counter with a
// dead time would take for a second pulse) both settle into one transition.
// The price: a pulse, or the gap between two, shorter than the debounce is
// not seen at all, so the debounce must stay under the shortest of them
// (S0 pulses last at least 30 ms, IEC 62053-31), and the highest frequency
// counted is about 1/(2·debounce).
//
// With debounce 0 the kernel's edge detection is used as configured and
// every edge event counts: for clean, push-pull signals only.
package edges

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// DefaultPoll is the longest single wait for an edge: how long Stop may
// take on a pin whose Halt does not interrupt the wait.
const DefaultPoll = 500 * time.Millisecond

// Options configure a Counter.
type Options struct {
	Pull     gpio.Pull
	Edge     gpio.Edge     // the transitions that count: rising, falling or both
	Debounce time.Duration // 0: count every edge event as is
	Poll     time.Duration // longest single wait; 0 means DefaultPoll
}

// Counter counts edges until Stop.
type Counter struct {
	pin      gpio.PinIn
	o        Options
	count    atomic.Uint64
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Start configures pin as an input with edge detection and starts counting.
// Its errors do not name the pin: the caller's do.
func Start(pin gpio.PinIn, o Options) (*Counter, error) {
	if o.Edge != gpio.RisingEdge && o.Edge != gpio.FallingEdge && o.Edge != gpio.BothEdges {
		return nil, fmt.Errorf("edge %s cannot be counted", o.Edge)
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	detect := o.Edge
	if o.Debounce > 0 {
		detect = gpio.BothEdges
	}
	if err := pin.In(o.Pull, detect); err != nil {
		return nil, fmt.Errorf("set as input (%s, %s detection): %w", o.Pull, detect, err)
	}
	c := &Counter{pin: pin, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	if o.Debounce > 0 {
		go c.debounced()
	} else {
		go c.raw()
	}
	return c, nil
}

// Count returns the edges counted since Start.
func (c *Counter) Count() uint64 { return c.count.Load() }

// Stop ends counting and waits for the goroutine (at most about Poll).
func (c *Counter) Stop() {
	c.stopOnce.Do(func() {
		close(c.stop)
		_ = c.pin.Halt() // interrupts a wait on gpioioctl; a no-op on fakes
	})
	<-c.done
}

func (c *Counter) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// wait waits for an edge for at most d, and guards against a pin whose
// WaitForEdge fails at once (not configured, or a driver bug): such a
// return is followed by a pause so that the loop does not spin a core.
func (c *Counter) wait(d time.Duration) bool {
	start := time.Now()
	if c.pin.WaitForEdge(d) {
		return true
	}
	if early := time.Since(start); early < d/2 && !c.stopped() {
		t := time.NewTimer(min(d-early, 50*time.Millisecond))
		select {
		case <-c.stop:
		case <-t.C:
		}
		t.Stop()
	}
	return false
}

func (c *Counter) raw() {
	defer close(c.done)
	for !c.stopped() {
		if c.wait(c.o.Poll) && !c.stopped() {
			c.count.Add(1)
		}
	}
}

func (c *Counter) debounced() {
	defer close(c.done)
	settled := c.pin.Read()
	pending := false // an edge came and the level has not settled since
	var last time.Time
	for !c.stopped() {
		d := c.o.Poll
		if pending {
			if d = c.o.Debounce - time.Since(last); d <= 0 {
				pending = false
				settled = c.settle(settled)
				continue
			}
		}
		if c.wait(d) {
			pending, last = true, time.Now()
		}
	}
}

// settle reads the level after a quiet debounce time and counts a change
// of the settled level that matches the edge.
func (c *Counter) settle(prev gpio.Level) gpio.Level {
	l := c.pin.Read()
	if l == prev {
		return prev // a bounce that came back: no transition
	}
	switch {
	case c.o.Edge == gpio.BothEdges,
		c.o.Edge == gpio.FallingEdge && l == gpio.Low,
		c.o.Edge == gpio.RisingEdge && l == gpio.High:
		c.count.Add(1)
	}
	return l
}
