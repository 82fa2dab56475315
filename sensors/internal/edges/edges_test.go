package edges

import (
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func waitCount(t *testing.T, c *Counter, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("counted %d, want %d", c.Count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Rising edges with a pull-down: only low-to-high settled transitions count.
func TestRisingDebounced(t *testing.T) {
	pin := &gpiotest.Pin{N: "X", EdgesChan: make(chan gpio.Level)}
	const db = 100 * time.Millisecond
	c, err := Start(pin, Options{Pull: gpio.PullDown, Edge: gpio.RisingEdge, Debounce: db, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if pin.Pull() != gpio.PullDown {
		t.Errorf("pull %s", pin.Pull())
	}
	for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
		pin.EdgesChan <- l
	}
	waitCount(t, c, 1)
	pin.EdgesChan <- gpio.Low // settles low: a falling transition, not counted
	time.Sleep(3 * db)
	pin.EdgesChan <- gpio.High
	waitCount(t, c, 2)
	time.Sleep(3 * db)
	if n := c.Count(); n != 2 {
		t.Errorf("count %d, want 2", n)
	}
}

func TestStartRejectsNoEdge(t *testing.T) {
	if _, err := Start(&gpiotest.Pin{N: "X"}, Options{Edge: gpio.NoEdge}); err == nil {
		t.Error("NoEdge accepted")
	}
}

// deafPin's WaitForEdge fails at once, like gpioioctl's for a line not set
// up for edges (or WaitForEdge(-1) in host v3.8.5).
type deafPin struct {
	gpiotest.Pin
	waits atomic.Int64
}

func (p *deafPin) WaitForEdge(time.Duration) bool { p.waits.Add(1); return false }

func TestNoSpinOnFailingWait(t *testing.T) {
	pin := &deafPin{Pin: gpiotest.Pin{N: "D", EdgesChan: make(chan gpio.Level)}}
	c, err := Start(pin, Options{Pull: gpio.PullUp, Edge: gpio.FallingEdge, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	c.Stop()
	// About 10 waits (a 20 ms pause after each); a spinning loop makes millions.
	if n := pin.waits.Load(); n > 100 || n == 0 {
		t.Errorf("%d waits in 200ms", n)
	}
	if c.Count() != 0 {
		t.Errorf("counted %d without edges", c.Count())
	}
}
