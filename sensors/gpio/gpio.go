package gpio

import (
	"context"
	"fmt"
	"sync"
	"time"

	periphgpio "periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "gpio",
		Doc:  "GPIO input level as 0/1, with pull, invert and debounce",
	}, DefaultOptions, New)
}

// Options are the gpio driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Pin is the GPIO input, e.g. "GPIO22". Required.
	Pin string `toml:"pin"`
	// Pull is up, down or none. Default "up".
	Pull string `toml:"pull"`
	// Invert reports 1 for a low level. Default false.
	Invert bool `toml:"invert"`
	// Debounce is how long the level must be stable; 0 reads it once.
	// Default 0; at most 10s.
	Debounce config.Duration `toml:"debounce"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Pull: "up"} }

// PinNames implements sensors.PinUser.
func (o *Options) PinNames() []string { return []string{o.Pin} }

// Sensor reads one pin's level.
type Sensor struct {
	name string
	o    Options
	pull periphgpio.Pull

	mu  sync.Mutex
	pin periphgpio.PinIO // nil until the first read, and after Close
}

// New validates opts and returns the sensor; it does not touch the pin.
func New(name string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	if o.Pin == "" {
		errs.Add("pin", `must be set, e.g. "GPIO22"`)
	}
	pull, err := hw.ParsePull(o.Pull)
	if err != nil {
		errs.Add("pull", "%v", err)
	}
	if d := o.Debounce.Duration; d < 0 || d > 10*time.Second {
		errs.Add("debounce", "must be between 0 and 10s, got %s", d)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{name: name, o: o, pull: pull}, nil
}

// Read returns the (debounced, inverted) level as field "level".
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pin == nil {
		p, err := hw.Pin(s.o.Pin)
		if err != nil {
			return nil, fmt.Errorf("gpio %s: %w", s.name, err)
		}
		if err := p.In(s.pull, periphgpio.NoEdge); err != nil {
			return nil, fmt.Errorf("gpio %s: pin %s: set as input (pull %s): %w", s.name, s.o.Pin, s.o.Pull, err)
		}
		s.pin = p
	}
	l, err := s.stableLevel(ctx)
	if err != nil {
		return nil, fmt.Errorf("gpio %s: pin %s: %w", s.name, s.o.Pin, err)
	}
	v := 0.0
	if l != s.o.Invert { // High xor invert
		v = 1
	}
	return []sensors.Value{{Field: "level", Value: v}}, nil
}

// stableLevel samples until the level has not changed for the debounce time.
func (s *Sensor) stableLevel(ctx context.Context) (bool, error) {
	l := bool(s.pin.Read())
	db := s.o.Debounce.Duration
	if db <= 0 {
		return l, nil
	}
	step := min(max(db/5, time.Millisecond), 10*time.Millisecond)
	since, changes := time.Now(), 0
	t := time.NewTicker(step)
	defer t.Stop()
	for time.Since(since) < db {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("level not stable for %s (changed %d times) before the read timed out: bouncing, or floating without a pull resistor? %w",
				db, changes, ctx.Err())
		case <-t.C:
		}
		if n := bool(s.pin.Read()); n != l {
			l, since = n, time.Now()
			changes++
		}
	}
	return l, nil
}

// Close forgets the pin; the next read configures it again. The pin is
// left as an input: driving it here could fight whatever is wired to it.
func (s *Sensor) Close() error {
	s.mu.Lock()
	s.pin = nil
	s.mu.Unlock()
	return nil
}
