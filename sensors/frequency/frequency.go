package frequency

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/edges"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "frequency",
		Doc:  "GPIO frequency meter (anemometer): mean pulse frequency over the interval, scaled",
	}, DefaultOptions, New)
}

// maxGate bounds the first read's measurement.
const maxGate = time.Second

// Options are the frequency driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Pin is the GPIO input, e.g. "GPIO27". Required.
	Pin string `toml:"pin"`
	// Pull is up, down or none. Default "up" (a reed switch to ground).
	Pull string `toml:"pull"`
	// Edge is falling, rising or both; both counts two transitions per
	// cycle and the count is halved. Default "falling".
	Edge string `toml:"edge"`
	// Debounce: how long the level must settle; 0 counts every edge event.
	// Default 1ms; at most 1s.
	Debounce config.Duration `toml:"debounce"`
	// Scale converts Hz into the reported unit. Default 1.
	Scale float64 `toml:"scale"`
	// Field names the series "<sensor>.<field>". Default "frequency".
	Field string `toml:"field"`
	// Unit of the value. Default "Hz" when Scale is 1; required otherwise.
	Unit string `toml:"unit"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Pull: "up", Edge: "falling", Debounce: config.D(time.Millisecond), Scale: 1, Field: "frequency"}
}

// PinNames implements sensors.PinUser.
func (o *Options) PinNames() []string { return []string{o.Pin} }

// Sensor is a frequency meter.
type Sensor struct {
	name string
	o    Options
	pull gpio.Pull
	edge gpio.Edge
	poll time.Duration // tests shorten it

	mu      sync.Mutex
	counter *edges.Counter
	prev    uint64
	prevAt  time.Time
}

// New validates opts and returns the sensor; it does not touch the pin. An
// empty unit is filled in opts ("Hz").
func New(name string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	if o.Pin == "" {
		errs.Add("pin", `must be set, e.g. "GPIO27"`)
	}
	pull, err := hw.ParsePull(o.Pull)
	if err != nil {
		errs.Add("pull", "%v", err)
	}
	edge, err := hw.ParseEdge(o.Edge)
	if err != nil {
		errs.Add("edge", "%v", err)
	}
	if d := o.Debounce.Duration; d < 0 || d > time.Second {
		errs.Add("debounce", "must be between 0 and 1s, got %s", d)
	}
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
	return &Sensor{name: name, o: o, pull: pull, edge: edge}, nil
}

// Read returns the mean frequency, scaled, since the previous read.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == nil {
		pin, err := hw.Pin(s.o.Pin)
		if err != nil {
			return nil, fmt.Errorf("frequency %s: %w", s.name, err)
		}
		c, err := edges.Start(s.o.Pin, pin, edges.Options{Pull: s.pull, Edge: s.edge, Debounce: s.o.Debounce.Duration, Poll: s.poll})
		if err != nil {
			return nil, fmt.Errorf("frequency %s: %w", s.name, err)
		}
		s.counter, s.prev, s.prevAt = c, 0, time.Now()
		if err := gate(ctx); err != nil {
			return nil, fmt.Errorf("frequency %s: first read: %w", s.name, err)
		}
	}
	now, n := time.Now(), s.counter.Count()
	dt := now.Sub(s.prevAt)
	cycles := float64(n - s.prev)
	if s.edge == gpio.BothEdges {
		cycles /= 2
	}
	s.prev, s.prevAt = n, now
	if dt <= 0 {
		return nil, fmt.Errorf("frequency %s: no time passed since the previous read", s.name)
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
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
