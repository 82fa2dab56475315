package frequency

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/gpiopin"
	"github.com/karana-energy/karana-edge/sensors/internal/edges"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "frequency",
		Doc:  "GPIO frequency meter (anemometer): mean pulse frequency over the interval, scaled",
	}, DefaultOptions, New)
}

// maxGate bounds the first read's measurement.
const maxGate = time.Second

// Options are the frequency driver's keys, inline in its [[sensor]] table:
// pin (required), pull (default "up": a reed switch to ground), edge
// (default "falling"; both counts two transitions per cycle and the count
// is halved), debounce (how long the level must settle, 0 counting every
// edge event; default 1ms, at most 1s) and those below.
type Options struct {
	gpiopin.CounterOptions
	// Scale converts Hz into the reported unit. Default 1.
	Scale float64 `toml:"scale"`
	// Field names the series "<sensor>.<field>". Default "frequency".
	Field string `toml:"field"`
	// Unit of the value. Default "Hz" when Scale is 1; required otherwise.
	Unit string `toml:"unit"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		CounterOptions: gpiopin.CounterOptions{
			Options: gpiopin.Options{Pull: "up", Debounce: config.D(time.Millisecond)},
			Edge:    "falling",
		},
		Scale: 1,
		Field: "frequency",
	}
}

// Sensor is a frequency meter.
type Sensor struct {
	o    Options
	in   gpiopin.Input
	poll time.Duration // tests shorten it

	mu      sync.Mutex
	counter *edges.Counter
	prev    uint64
	prevAt  time.Time
}

// New validates opts and returns the sensor; it does not touch the pin. An
// empty unit is filled in opts ("Hz").
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	in := o.CounterOptions.Validate(&errs, "frequency", time.Second)
	if !(o.Scale > 0) || math.IsInf(o.Scale, 0) {
		errs.Add("scale", "must be a positive number (units per Hz), got %v", o.Scale)
	}
	if !reading.ValidName(o.Field) {
		errs.Add("field", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.'", o.Field)
	}
	if o.Unit == "" && o.Scale != 1 {
		errs.Add("unit", `must be set when scale is not 1 (e.g. "m/s")`)
	}
	if len(o.Unit) > 32 || strings.ContainsAny(o.Unit, "\n\r\t") {
		errs.Add("unit", "must be at most 32 printable characters, got %q", o.Unit)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if o.Unit == "" {
		o.Unit = "Hz"
		opts.Unit = o.Unit
	}
	return &Sensor{o: o, in: in}, nil
}

// Read returns the mean frequency, scaled, since the previous read.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == nil {
		c, err := s.in.Count(s.poll)
		if err != nil {
			return nil, err
		}
		s.counter, s.prev, s.prevAt = c, 0, time.Now()
		if err := gate(ctx); err != nil {
			return nil, s.in.Err(fmt.Errorf("first read: %w", err))
		}
	}
	now, n := time.Now(), s.counter.Count()
	dt := now.Sub(s.prevAt)
	cycles := float64(n - s.prev)
	if s.in.Edge == gpio.BothEdges {
		cycles /= 2
	}
	s.prev, s.prevAt = n, now
	if dt <= 0 {
		return nil, s.in.Err(errors.New("no time passed since the previous read"))
	}
	hz := cycles / dt.Seconds()
	return []sensors.Value{{Field: s.o.Field, Value: hz * s.o.Scale, Unit: s.o.Unit}}, nil
}

// gate waits for the first read's measurement window.
func gate(ctx context.Context) error {
	d := maxGate
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	if d <= 0 {
		return context.DeadlineExceeded
	}
	return sensors.Sleep(ctx, d)
}

// Close stops counting and releases the pin.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter != nil {
		s.counter.Stop()
		s.counter = nil
	}
	return nil
}
