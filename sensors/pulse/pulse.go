package pulse

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/gpiopin"
	"github.com/karana-energy/karana-edge/sensors/internal/edges"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "pulse",
		Doc:  "GPIO pulse counter (S0 energy meter, rain gauge, flow meter): total and rate, total kept across restarts",
	}, DefaultOptions, New)
}

// stateKey is where the pulse count is persisted (sensors.State).
const stateKey = "pulses"

// Options are the pulse driver's keys, inline in its [[sensor]] table: pin
// (required), pull (default "up": S0 outputs are open collector), edge (the
// transition that is a pulse; default "falling": an S0 output pulls the
// line low), debounce (how long the level must settle before a transition
// counts, 0 counting every edge event, for clean push-pull signals only;
// default 10ms, at most 1s) and those below.
type Options struct {
	gpiopin.CounterOptions
	// PerUnit is the number of pulses per unit of total. Default 1.
	PerUnit float64 `toml:"per_unit"`
	// Unit of total, e.g. "kWh". Default "".
	Unit string `toml:"unit"`
	// RateScale multiplies the rate (units per hour). Default 1.
	RateScale float64 `toml:"rate_scale"`
	// RateUnit is the unit of rate. Default: Unit + "/h" when RateScale is 1;
	// required otherwise.
	RateUnit string `toml:"rate_unit"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		CounterOptions: gpiopin.CounterOptions{
			Options: gpiopin.Options{Pull: "up", Debounce: config.D(10 * time.Millisecond)},
			Edge:    "falling",
		},
		PerUnit:   1,
		RateScale: 1,
	}
}

func (o *Options) validate() (gpiopin.Input, config.FieldErrors) {
	var errs config.FieldErrors
	in := o.CounterOptions.Validate(&errs, "pulse", time.Second)
	if !(o.PerUnit > 0) || math.IsInf(o.PerUnit, 0) {
		errs.Add("per_unit", "must be a positive number of pulses per unit, got %v", o.PerUnit)
	}
	if !(o.RateScale > 0) || math.IsInf(o.RateScale, 0) {
		errs.Add("rate_scale", "must be a positive number, got %v", o.RateScale)
	}
	if o.RateUnit == "" && o.RateScale != 1 {
		errs.Add("rate_unit", "must be set when rate_scale is not 1 (e.g. kWh/h x 1000 is \"W\")")
	}
	for key, u := range map[string]string{"unit": o.Unit, "rate_unit": o.RateUnit} {
		if len(u) > 32 || strings.ContainsAny(u, "\n\r\t") {
			errs.Add(key, "must be at most 32 printable characters, got %q", u)
		}
	}
	return in, errs
}

// Sensor is a pulse counter. Read and Close may be called from different
// goroutines.
type Sensor struct {
	o     Options
	in    gpiopin.Input
	poll  time.Duration // edges.Options.Poll; tests shorten it
	state sensors.State

	mu      sync.Mutex
	counter *edges.Counter
	base    uint64 // pulses before the running counter started
	prev    uint64 // total at the previous read
	prevAt  time.Time
	prevOK  bool // prev is from the running counter
}

// New validates opts and returns the sensor; it does not touch the pin. A
// rate_unit left empty is filled in opts.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	in, errs := o.validate()
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if o.RateUnit == "" && o.Unit != "" {
		o.RateUnit = o.Unit + "/h"
		opts.RateUnit = o.RateUnit
	}
	return &Sensor{o: o, in: in}, nil
}

// Restore implements sensors.Stateful: the count persisted by the previous
// run becomes the base of this one, and counting starts.
func (s *Sensor) Restore(st sensors.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	// Start counting now, at daemon start, rather than at the first read an
	// interval later: pulses in between would be lost. A pin that cannot
	// be opened now is reported by that read.
	defer func() { _ = s.startLocked() }()
	v, ok := st.Get(stateKey)
	if !ok {
		return nil
	}
	if len(v) != 8 {
		return fmt.Errorf("stored pulse count is %d bytes, want 8 (counting from 0)", len(v))
	}
	s.base = binary.BigEndian.Uint64(v)
	return nil
}

// startLocked configures the pin and starts counting; mu held.
func (s *Sensor) startLocked() error {
	if s.counter != nil {
		return nil
	}
	c, err := s.in.Count(s.poll)
	if err != nil {
		return err
	}
	s.counter = c
	s.prevOK = false
	return nil
}

// Read returns total and, from the second read on, rate. Counting starts
// at Restore, or else at the first read.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		return nil, err
	}
	now := time.Now()
	total := s.base + s.counter.Count()
	s.save(total)
	vals := []sensors.Value{{Field: "total", Value: float64(total) / s.o.PerUnit, Unit: s.o.Unit}}
	if s.prevOK {
		if dt := now.Sub(s.prevAt); dt > 0 {
			rate := float64(total-s.prev) / s.o.PerUnit / dt.Hours() * s.o.RateScale
			vals = append(vals, sensors.Value{Field: "rate", Value: rate, Unit: s.o.RateUnit})
		}
	}
	s.prev, s.prevAt, s.prevOK = total, now, true
	return vals, nil
}

func (s *Sensor) save(total uint64) {
	if s.state != nil {
		s.state.Set(stateKey, binary.BigEndian.AppendUint64(nil, total))
	}
}

// Close stops counting and releases the pin; the count so far is kept, and
// a later Read starts counting again from it.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == nil {
		return nil
	}
	s.counter.Stop()
	s.base += s.counter.Count()
	s.counter = nil
	s.prevOK = false
	s.save(s.base)
	return nil
}
