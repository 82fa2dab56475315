package gpiopin

import (
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
	hw.HostInit = func() error { return nil } // only the fake pins below exist
	os.Exit(m.Run())
}

func fakePin(t *testing.T, name string) *gpiotest.Pin {
	t.Helper()
	p := &gpiotest.Pin{N: name, Num: -1, EdgesChan: make(chan gpio.Level, 1)}
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(name) })
	return p
}

func TestValidate(t *testing.T) {
	var errs config.FieldErrors
	in := CounterOptions{Options{Pin: "GPIO5", Pull: "down", Debounce: config.D(time.Second)}, "both"}.Validate(&errs, "pulse", time.Second)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := Input{Driver: "pulse", Pin: "GPIO5", Pull: gpio.PullDown, Edge: gpio.BothEdges, Debounce: time.Second}
	if in != want || in.String() != "pulse on pin GPIO5" {
		t.Errorf("Validate = %+v (%s), want %+v", in, in, want)
	}
	if in := (Options{Pin: "GPIO5", Pull: "none"}).Validate(&errs, "gpio", 0); in.Pull != gpio.Float || in.Edge != gpio.NoEdge || len(errs) != 0 {
		t.Errorf("level input = %+v, %v", in, errs)
	}

	CounterOptions{Options{Pull: "strong", Debounce: config.D(1001 * time.Millisecond)}, "up"}.Validate(&errs, "pulse", time.Second)
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Error()
	}
	for i, w := range []string{
		`pin: must be set, e.g. "GPIO17"`,
		`pull: unknown pull "strong" (use up, down or none)`,
		"debounce: must be between 0 and 1s, got 1.001s",
		`edge: unknown edge "up" (use falling, rising or both)`,
	} {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("errors %q: want %q at %d", got, w, i)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d errors, want 4: %q", len(got), got)
	}
}

func TestLevelConfiguresTheInput(t *testing.T) {
	p := fakePin(t, "GPIOPIN_A")
	in := Input{Driver: "gpio", Pin: "GPIOPIN_A", Pull: gpio.PullDown}
	got, err := in.Level()
	if err != nil {
		t.Fatal(err)
	}
	p.Lock()
	p.L = gpio.High // driven high against the pull-down
	p.Unlock()
	if got.Read() != gpio.High || p.P != gpio.PullDown {
		t.Errorf("level %v, pull %v; want High, PullDown", got.Read(), p.P)
	}
}

func TestCount(t *testing.T) {
	p := fakePin(t, "GPIOPIN_B")
	in := Input{Driver: "pulse", Pin: "GPIOPIN_B", Pull: gpio.PullUp, Edge: gpio.FallingEdge}
	c, err := in.Count(10 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	p.EdgesChan <- gpio.Low
	deadline := time.Now().Add(10 * time.Second)
	for c.Count() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c.Count() != 1 {
		t.Errorf("count %d after one edge, want 1", c.Count())
	}
}

func TestMissingPin(t *testing.T) {
	in := Input{Driver: "pulse", Pin: "GPIOPIN_NOPE", Pull: gpio.PullUp, Edge: gpio.FallingEdge}
	_, err1 := in.Level()
	_, err2 := in.Count(0)
	for _, err := range []error{err1, err2} {
		if !errors.Is(err, sensors.ErrNotFitted) || !strings.HasPrefix(err.Error(), "pulse on pin GPIOPIN_NOPE: no such pin on this board (") {
			t.Errorf("missing pin: %v", err)
		}
	}
}
