package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "sim",
		Doc:  "simulated sensor (no hardware): sine, ramp, counter, random-walk or solar waveform",
	}, DefaultOptions, New)
}

// Waveform names.
const (
	Sine       = "sine"
	Ramp       = "ramp"
	Counter    = "counter"
	RandomWalk = "random-walk"
	Solar      = "solar"
)

var waveforms = []string{Sine, Ramp, Counter, RandomWalk, Solar}

// Options are the sim driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Waveform is sine, ramp, counter, random-walk or solar. Default "sine".
	Waveform string `toml:"waveform"`
	// Amplitude scales the waveform; must not be negative. Default 1.
	Amplitude float64 `toml:"amplitude"`
	// Offset is added to every value. Default 0.
	Offset float64 `toml:"offset"`
	// Period of the waveform; 0 (the default) means the waveform's own:
	// 1h for sine and ramp, 24h for solar (one day), 10s for counter (the
	// time per amplitude step on average). New fills it in.
	Period config.Duration `toml:"period"`
	// Noise is the standard deviation of gaussian noise added to each value.
	// Default 0.
	Noise float64 `toml:"noise"`
	// Resolution rounds every value to a multiple of it, like a real ADC;
	// 0 (the default) keeps full float64 precision.
	Resolution float64 `toml:"resolution"`
	// Unit of the values, e.g. "W". Default "".
	Unit string `toml:"unit"`
	// Seed of the randomness; 0 (the default) derives it from the sensor
	// name, so each sensor differs and each box reads the same.
	Seed int64 `toml:"seed"`
	// Field names the series "<sensor>.<field>"; "" names it just
	// "<sensor>". Default "value".
	Field string `toml:"field"`
	// FailEvery > 0 makes every FailEvery-th read fail. Default 0 (never).
	FailEvery int `toml:"fail_every"`
	// Delay makes each read take this long, honouring its context.
	// Default 0.
	Delay config.Duration `toml:"delay"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Waveform: Sine, Amplitude: 1, Field: "value"}
}

// defaultPeriod is each waveform's period when none is set.
func defaultPeriod(waveform string) time.Duration {
	switch waveform {
	case Solar:
		return 24 * time.Hour
	case Counter:
		return 10 * time.Second
	default:
		return time.Hour
	}
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Sensor is a simulated sensor. It is safe for concurrent use.
type Sensor struct {
	o        Options
	period   time.Duration
	seed     uint64
	decimals int // of Resolution, to print rounded values cleanly
	// unit is Resolution as units·10^-decimals, when that is an integer:
	// quantize then needs no strconv (see there).
	unit float64

	mu      sync.Mutex
	reads   uint64  // reads attempted, for FailEvery
	walk    float64 // random-walk position in [-1, 1]
	counter float64 // highest counter value returned
	started bool    // counter holds a value
}

// New validates opts and returns the sensor. A period left at 0 is filled in
// with the waveform's default in opts, so the effective config shows it.
// Errors are config.FieldErrors keyed by option name.
func New(name string, opts *Options) (*Sensor, error) {
	o := *opts
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Period.Duration == 0 {
		o.Period.Duration = defaultPeriod(o.Waveform)
		opts.Period = o.Period
	}
	s := &Sensor{o: o, period: o.Period.Duration, seed: uint64(o.Seed)}
	if o.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(name))
		s.seed = h.Sum64()
	}
	if o.Resolution > 0 {
		r := strconv.FormatFloat(o.Resolution, 'f', -1, 64)
		if i := strings.IndexByte(r, '.'); i >= 0 {
			s.decimals = len(r) - i - 1
		}
		if s.decimals < len(pow10) {
			if m := math.Round(o.Resolution * pow10[s.decimals]); m > 0 && m/pow10[s.decimals] == o.Resolution && m < 1<<20 {
				s.unit = m
			}
		}
	}
	return s, nil
}

func (o *Options) validate() error {
	var errs config.FieldErrors
	known := false
	for _, w := range waveforms {
		known = known || o.Waveform == w
	}
	if !known {
		errs.Add("waveform", "unknown waveform %q (use %s)", o.Waveform, strings.Join(waveforms, ", "))
	}
	finite := func(key string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			errs.Add(key, "must be a finite number, got %v", v)
			return false
		}
		return true
	}
	if finite("amplitude", o.Amplitude) && o.Amplitude < 0 {
		errs.Add("amplitude", "must not be negative, got %v (use offset to shift the curve)", o.Amplitude)
	}
	finite("offset", o.Offset)
	if o.Period.Duration < 0 {
		errs.Add("period", "must not be negative, got %s", o.Period.Duration)
	}
	if finite("noise", o.Noise) && o.Noise < 0 {
		errs.Add("noise", "must not be negative (it is a standard deviation), got %v", o.Noise)
	}
	if finite("resolution", o.Resolution) && o.Resolution < 0 {
		errs.Add("resolution", "must not be negative, got %v (0 keeps full precision)", o.Resolution)
	}
	if o.Field != "" && !reading.ValidName(o.Field) {
		errs.Add("field", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.', not starting or ending with a dot", o.Field)
	}
	if len(o.Unit) > 32 || strings.IndexFunc(o.Unit, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		errs.Add("unit", "must be at most 32 printable characters, got %q", o.Unit)
	}
	if o.FailEvery < 0 {
		errs.Add("fail_every", "must not be negative, got %d (0 never fails)", o.FailEvery)
	}
	if o.Delay.Duration < 0 {
		errs.Add("delay", "must not be negative, got %s", o.Delay.Duration)
	}
	return errs.Err()
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read returns the value for the slot in ctx (sensors.Slot), or for now.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d := s.o.Delay.Duration; d > 0 {
		if err := sensors.Sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("delay %s: %w", d, err)
		}
	}
	at, ok := sensors.Slot(ctx)
	if !ok {
		at = time.Now()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if n := uint64(s.o.FailEvery); n > 0 && s.reads%n == 0 {
		return nil, fmt.Errorf("simulated failure of read %d (fail_every = %d)", s.reads, n)
	}
	return []sensors.Value{{Field: s.o.Field, Value: s.value(at), Unit: s.o.Unit}}, nil
}

// Close does nothing: there is no hardware.
func (s *Sensor) Close() error { return nil }

// value computes the reading for t; s.mu is held.
func (s *Sensor) value(t time.Time) float64 {
	o := &s.o
	var v float64
	switch o.Waveform {
	case Sine:
		v = o.Offset + o.Amplitude*math.Sin(2*math.Pi*phase(t, s.period)) + s.noise(t)
	case Ramp:
		v = o.Offset + o.Amplitude*phase(t, s.period) + s.noise(t)
	case RandomWalk:
		s.walk = step(s.walk, 0.01*gauss(s.seed, saltWalk, t.UnixNano()))
		v = o.Offset + o.Amplitude*s.walk + s.noise(t)
	case Solar:
		v = o.Offset
		if sun := o.Amplitude * solar(t, s.period, s.seed); sun > 0 {
			v += max(0, sun+s.noise(t))
		}
	case Counter:
		v = o.Offset + o.Amplitude*counter(t, s.period, s.seed)
	}
	v = s.quantize(v)
	if o.Waveform == Counter {
		if s.started && v < s.counter {
			v = s.counter // the wall clock stepped back: a total never does
		}
		s.counter, s.started = v, true
	}
	return v
}

func (s *Sensor) noise(t time.Time) float64 {
	if s.o.Noise == 0 {
		return 0
	}
	return s.o.Noise * gauss(s.seed, saltNoise, t.UnixNano())
}

// quantize rounds v to a multiple of the resolution and then to the float64
// nearest the decimal it stands for: math.Round(v/0.1)*0.1 can give
// 0.30000000000000004, which would cost bytes on the wire in every format
// that prints numbers, and look broken.
//
// With the resolution m·10^-d for an integer m (0.01, 0.25, 5), the value
// is the integer n·m divided by 10^d: both exact, and IEEE division rounds
// correctly, so that is the float64 nearest the decimal, as the strconv
// round trip gives, without it. The round trip is also the deepest call on
// a sensor's goroutine (strconv's float parser has a large frame): it grew
// fifty sim sensors' stacks from 4 to 8 KiB, 0.2 MiB of the footprint
// benchmark's RSS.
func (s *Sensor) quantize(v float64) float64 {
	res := s.o.Resolution
	if res <= 0 {
		return v
	}
	n := math.Round(v / res)
	var q float64
	if p := n * s.unit; s.unit > 0 && math.Abs(p) < 1<<53 {
		q = p / pow10[s.decimals]
	} else {
		q = n * res
		if c, err := strconv.ParseFloat(strconv.FormatFloat(q, 'f', s.decimals, 64), 64); err == nil {
			q = c
		}
	}
	if q == 0 {
		q = 0 // not -0, which prints as "-0"
	}
	return q
}
