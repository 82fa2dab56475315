package frequency

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func TestMain(m *testing.M) {
	hw.HostInit = func() error { return nil } // only the fakes below exist
	os.Exit(m.Run())
}

func fakePin(t *testing.T, name string) *gpiotest.Pin {
	t.Helper()
	p := &gpiotest.Pin{N: name, Num: -1, EdgesChan: make(chan gpio.Level)}
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(name) })
	return p
}

func newSensor(t *testing.T, o Options) *Sensor {
	t.Helper()
	s, err := New("wind", &o)
	if err != nil {
		t.Fatal(err)
	}
	s.poll = 20 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

func waitCount(t *testing.T, s *Sensor, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		c := s.counter.Count()
		s.mu.Unlock()
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %d edges, want %d", c, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func readOne(t *testing.T, s *Sensor, ctx context.Context) sensors.Value {
	t.Helper()
	vals, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 {
		t.Fatalf("Read = %+v, want one value", vals)
	}
	return vals[0]
}

func TestFrequencyScaled(t *testing.T) {
	for _, tc := range []struct {
		edge     string
		perCycle int
	}{{"falling", 1}, {"both", 2}} {
		t.Run(tc.edge, func(t *testing.T) {
			name := "FREQ_" + strings.ToUpper(tc.edge)
			pin := fakePin(t, name)
			o := DefaultOptions()
			o.Pin, o.Edge, o.Debounce, o.Scale, o.Field, o.Unit = name, tc.edge, config.D(0), 0.667, "speed", "m/s"
			s := newSensor(t, o)

			// The first read measures over a gate within its timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			v := readOne(t, s, ctx)
			cancel()
			if v.Field != "speed" || v.Unit != "m/s" || v.Value != 0 {
				t.Errorf("first read %+v, want 0 m/s", v)
			}
			if el := time.Since(start); el > 200*time.Millisecond {
				t.Errorf("first read took %s, over its timeout", el)
			}

			b := time.Now()
			const cycles = 30
			for range cycles * tc.perCycle {
				pin.EdgesChan <- gpio.Low
			}
			waitCount(t, s, uint64(cycles*tc.perCycle))
			c := time.Now()
			v = readOne(t, s, context.Background())
			d := time.Now()
			// cycles over an interval between c-b and d-(start).
			lo, hi := cycles/d.Sub(start).Seconds()*0.667, cycles/c.Sub(b).Seconds()*0.667
			if v.Value < lo || v.Value > hi {
				t.Errorf("speed %v, want between %v and %v", v.Value, lo, hi)
			}
		})
	}
}

func TestNotFittedAndValidate(t *testing.T) {
	o := DefaultOptions()
	o.Pin = "GPIO_NOPE"
	s := newSensor(t, o)
	if _, err := s.Read(context.Background()); !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "frequency on pin GPIO_NOPE: no such pin") {
		t.Errorf("Read = %v", err)
	}
	if s.o.Unit != "Hz" {
		t.Errorf("unit default = %q, want Hz", s.o.Unit)
	}

	bad := Options{Scale: 2, Field: "a b"}
	bad.Pull, bad.Edge = "up", "sideways"
	_, err := New("w", &bad)
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("New = %v", err)
	}
	for _, k := range []string{"pin", "edge", "unit", "field"} {
		if !strings.Contains(err.Error(), k+":") {
			t.Errorf("no error for %s: %v", k, err)
		}
	}
}
