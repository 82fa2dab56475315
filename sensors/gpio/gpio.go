package gpio

import (
	"context"
	"fmt"
	"sync"
	"time"

	periphgpio "periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/gpiopin"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "gpio",
		Doc:  "GPIO input level as 0/1, with pull, invert and debounce",
	}, DefaultOptions, New)
}

// maxDebounce bounds debounce.
const maxDebounce = 10 * time.Second

// Options are the gpio driver's keys, inline in its [[sensor]] table: pin
// (required), pull (default "up"), debounce (how long the level must be
// stable; default 0, which reads it once; at most 10s), and invert.
type Options struct {
	gpiopin.Options
	// Invert reports 1 for a low level. Default false.
	Invert bool `toml:"invert"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Options: gpiopin.Options{Pull: "up"}} }

// Sensor reads one pin's level.
type Sensor struct {
	in     gpiopin.Input
	invert bool

	mu  sync.Mutex
	pin periphgpio.PinIO // nil until the first read, and after Close
}

// New validates opts and returns the sensor; it does not touch the pin.
func New(_ string, opts *Options) (*Sensor, error) {
	var errs config.FieldErrors
	in := opts.Options.Validate(&errs, "gpio", maxDebounce)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{in: in, invert: opts.Invert}, nil
}

// Read returns the (debounced, inverted) level as field "level".
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pin == nil {
		p, err := s.in.Level()
		if err != nil {
			return nil, err
		}
		s.pin = p
	}
	l, err := s.stableLevel(ctx)
	if err != nil {
		return nil, s.in.Err(err)
	}
	v := 0.0
	if l != s.invert { // High xor invert
		v = 1
	}
	return []sensors.Value{{Field: "level", Value: v}}, nil
}

// stableLevel samples until the level has not changed for the debounce time.
func (s *Sensor) stableLevel(ctx context.Context) (bool, error) {
	l := bool(s.pin.Read())
	db := s.in.Debounce
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
