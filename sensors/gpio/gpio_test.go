package gpio

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/gpiopin"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func TestMain(m *testing.M) {
	hw.HostInit = func() error { return nil } // only the fakes below exist
	os.Exit(m.Run())
}

// testPin is a gpiotest pin that counts In calls and, when bounce is set,
// reads the opposite level at every other Read.
type testPin struct {
	*gpiotest.Pin
	ins    atomic.Int32
	bounce atomic.Bool
	reads  atomic.Int64
}

func (p *testPin) In(pull periphgpio.Pull, edge periphgpio.Edge) error {
	p.ins.Add(1)
	return p.Pin.In(pull, edge)
}

func (p *testPin) Read() periphgpio.Level {
	l := p.Pin.Read()
	if p.bounce.Load() && p.reads.Add(1)%2 == 0 {
		return !l
	}
	return l
}

func (p *testPin) set(l periphgpio.Level) {
	p.Lock()
	p.L = l
	p.Unlock()
}

func fakePin(t *testing.T, name string) *testPin {
	t.Helper()
	p := &testPin{Pin: &gpiotest.Pin{N: name, Num: -1}}
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(name) })
	return p
}

func level(t *testing.T, s *Sensor, ctx context.Context) float64 {
	t.Helper()
	vals, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 || vals[0].Field != "level" {
		t.Fatalf("Read = %+v", vals)
	}
	return vals[0].Value
}

func newSensor(t *testing.T, o Options) *Sensor {
	t.Helper()
	s, err := New("door", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLevelPullInvert(t *testing.T) {
	pin := fakePin(t, "LVL_A")
	s := newSensor(t, Options{Options: gpiopin.Options{Pin: "LVL_A", Pull: "up"}})
	if v := level(t, s, context.Background()); v != 1 || pin.Pull() != periphgpio.PullUp {
		t.Errorf("pulled-up open contact reads %v (pull %s), want 1", v, pin.Pull())
	}
	pin.set(periphgpio.Low)
	if v := level(t, s, context.Background()); v != 0 {
		t.Errorf("low level reads %v, want 0", v)
	}

	inv := newSensor(t, Options{Options: gpiopin.Options{Pin: "LVL_A", Pull: "down"}, Invert: true})
	if v := level(t, inv, context.Background()); v != 1 || pin.Pull() != periphgpio.PullDown {
		t.Errorf("inverted pulled-down pin reads %v (pull %s), want 1", v, pin.Pull())
	}

	// Close forgets the pin; the next read configures it again.
	n := pin.ins.Load()
	s.Close()
	level(t, s, context.Background())
	if pin.ins.Load() != n+1 {
		t.Errorf("In called %d times after re-open, want %d", pin.ins.Load(), n+1)
	}
}

func TestDebounce(t *testing.T) {
	pin := fakePin(t, "LVL_B")
	const db = 30 * time.Millisecond
	s := newSensor(t, Options{Options: gpiopin.Options{Pin: "LVL_B", Pull: "none", Debounce: config.D(db)}})
	pin.set(periphgpio.High)
	start := time.Now()
	if v := level(t, s, context.Background()); v != 1 {
		t.Errorf("stable high reads %v", v)
	}
	if el := time.Since(start); el < db {
		t.Errorf("debounced read returned after %s, before the debounce time %s", el, db)
	}

	pin.bounce.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := s.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gpio on pin LVL_B: level not stable for 30ms") {
		t.Errorf("bouncing pin: %v", err)
	}
}

func TestNotFittedAndValidate(t *testing.T) {
	s := newSensor(t, Options{Options: gpiopin.Options{Pin: "GPIO_NOPE", Pull: "up"}})
	_, err := s.Read(context.Background())
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "gpio on pin GPIO_NOPE: no such pin on this board") {
		t.Errorf("Read = %v", err)
	}
	_, err = New("x", &Options{Options: gpiopin.Options{Pull: "strong", Debounce: config.D(-time.Second)}})
	for _, k := range []string{"pin:", "pull:", "debounce:"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("no %s error in %v", k, err)
		}
	}
	o := DefaultOptions()
	o.Pin = "GPIO22"
	if got := o.PinNames(); len(got) != 1 || got[0] != "GPIO22" {
		t.Errorf("PinNames = %v", got)
	}
}
