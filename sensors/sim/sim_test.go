package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
)

// day0 is a midnight UTC; tests read at chosen times through the slot.
var day0 = time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)

func newSim(t testing.TB, name string, o Options) *Sensor {
	t.Helper()
	s, err := New(name, &o)
	if err != nil {
		t.Fatalf("New(%s, %+v): %v", name, o, err)
	}
	return s
}

func readAt(t testing.TB, s *Sensor, at time.Time) float64 {
	t.Helper()
	vals, err := s.Read(sensors.WithSlot(context.Background(), at))
	if err != nil {
		t.Fatalf("Read at %s: %v", at, err)
	}
	if len(vals) != 1 {
		t.Fatalf("Read at %s: %d values, want 1", at, len(vals))
	}
	return vals[0].Value
}

func opts(waveform string) Options {
	o := DefaultOptions()
	o.Waveform = waveform
	return o
}

func TestRegistered(t *testing.T) {
	d, ok := sensors.Lookup("sim")
	if !ok {
		t.Fatal(`driver "sim" not registered`)
	}
	o, ok := d.Options().(*Options)
	if !ok {
		t.Fatalf("Options() = %T, want *sim.Options", d.Options())
	}
	if *o != DefaultOptions() {
		t.Errorf("Options() = %+v, want the defaults %+v", *o, DefaultOptions())
	}
	o.Waveform = Solar
	s, err := d.New("pv1", o)
	if err != nil {
		t.Fatal(err)
	}
	if o.Period.Duration != 24*time.Hour {
		t.Errorf("solar period filled in as %s, want 24h", o.Period.Duration)
	}
	if s.Close() != nil {
		t.Error("Close failed")
	}
}

func TestDefaults(t *testing.T) {
	d, _ := sensors.Lookup("sim")
	sen, err := d.New("x", nil) // nil: the defaults
	if err != nil {
		t.Fatal(err)
	}
	s := sen.(*Sensor)
	got := s.Options()
	if got.Waveform != Sine || got.Amplitude != 1 || got.Field != "value" || got.Period.Duration != time.Hour {
		t.Errorf("defaults = %+v", got)
	}
	vals, err := s.Read(context.Background())
	if err != nil || len(vals) != 1 || vals[0].Field != "value" || vals[0].Unit != "" {
		t.Errorf("Read = %+v, %v", vals, err)
	}
	for w, want := range map[string]time.Duration{Sine: time.Hour, Ramp: time.Hour, Solar: 24 * time.Hour, Counter: 10 * time.Second} {
		if got := newSim(t, "x", opts(w)).Options().Period.Duration; got != want {
			t.Errorf("%s: default period %s, want %s", w, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		key string
		mod func(*Options)
	}{
		{"waveform", func(o *Options) { o.Waveform = "square" }},
		{"waveform", func(o *Options) { o.Waveform = "" }},
		{"period", func(o *Options) { o.Period = config.D(-time.Second) }},
		{"resolution", func(o *Options) { o.Resolution = -0.1 }},
		{"resolution", func(o *Options) { o.Resolution = math.Inf(1) }},
		{"amplitude", func(o *Options) { o.Amplitude = -1 }},
		{"offset", func(o *Options) { o.Offset = math.NaN() }},
		{"noise", func(o *Options) { o.Noise = -0.5 }},
		{"field", func(o *Options) { o.Field = "bad field" }},
		{"field", func(o *Options) { o.Field = ".x" }},
		{"unit", func(o *Options) { o.Unit = "W\n" }},
		{"fail_every", func(o *Options) { o.FailEvery = -2 }},
		{"delay", func(o *Options) { o.Delay = config.D(-time.Millisecond) }},
	} {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("s", &o)
		var fe config.FieldErrors
		if !errors.As(err, &fe) {
			t.Errorf("%s: New error %v (%T), want config.FieldErrors", c.key, err, err)
			continue
		}
		if len(fe) != 1 || fe[0].Key != c.key {
			t.Errorf("%s: errors %v, want one for key %q", c.key, err, c.key)
		}
	}

	// Every mistake is reported at once.
	o := Options{Waveform: "tri", Period: config.D(-1), Resolution: -1}
	_, err := New("s", &o)
	var fe config.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 3 {
		t.Errorf("three mistakes: got %v", err)
	}
	if !strings.Contains(err.Error(), `unknown waveform "tri"`) || !strings.Contains(err.Error(), "random-walk") {
		t.Errorf("waveform error should name the bad value and the choices: %v", err)
	}

	d, _ := sensors.Lookup("sim")
	if _, err := d.New("s", 42); err == nil {
		t.Error("New accepted options of type int")
	}
}

func TestSine(t *testing.T) {
	o := opts(Sine)
	o.Amplitude, o.Offset = 10, 20
	s := newSim(t, "s", o)
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 20}, {15 * time.Minute, 30}, {30 * time.Minute, 20}, {45 * time.Minute, 10}, {time.Hour, 20}} {
		if got := readAt(t, s, day0.Add(c.at)); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("sine at +%s = %v, want %v", c.at, got, c.want)
		}
	}
}

func TestRamp(t *testing.T) {
	o := opts(Ramp)
	o.Amplitude, o.Offset, o.Period = 100, 5, config.D(10*time.Minute)
	s := newSim(t, "s", o)
	prev := math.Inf(-1)
	for at := time.Duration(0); at < 10*time.Minute; at += 10 * time.Second {
		v := readAt(t, s, day0.Add(at))
		if v < 5 || v >= 105 || v <= prev {
			t.Fatalf("ramp at +%s = %v after %v: want rising within [5, 105)", at, v, prev)
		}
		prev = v
	}
	if v := readAt(t, s, day0.Add(10*time.Minute)); v != 5 {
		t.Errorf("ramp restarts at the period: got %v, want 5", v)
	}
	if v := readAt(t, s, day0.Add(5*time.Minute)); v != 55 {
		t.Errorf("ramp mid-period = %v, want 55", v)
	}
}

func TestSolar(t *testing.T) {
	o := opts(Solar)
	o.Amplitude = 1000
	o.Noise = 5
	s := newSim(t, "pv1_power", o)
	var dipped, days int
	for d := range 14 {
		day := day0.AddDate(0, 0, d)
		for at := time.Duration(0); at < 24*time.Hour; at += time.Minute {
			v := readAt(t, s, day.Add(at))
			switch h := at.Hours(); {
			case h <= 6 || h >= 18:
				if v != 0 {
					t.Fatalf("solar at %s (night) = %v, want 0", day.Add(at), v)
				}
			case h >= 10 && h <= 14:
				if v <= 0 {
					t.Fatalf("solar at %s (midday) = %v, want > 0", day.Add(at), v)
				}
				clear := 1000 * math.Pow(math.Sin(math.Pi*(h-6)/12), 1.5)
				if v < 0.7*clear {
					dipped++
				}
			}
			if v < 0 || v > 1000+6*5 {
				t.Fatalf("solar at %s = %v, outside [0, amplitude+noise]", day.Add(at), v)
			}
		}
		days++
	}
	// Clouds: some midday minutes well below the clear sky, but not most.
	midday := days * 4 * 60
	if dipped == 0 || dipped > midday/2 {
		t.Errorf("%d of %d midday minutes under 70%% of clear sky: want some clouds, not overcast", dipped, midday)
	}
}

func TestCounterNeverDecreases(t *testing.T) {
	o := opts(Counter)
	o.Resolution = 1
	s := newSim(t, "load1_energy", o)
	first := readAt(t, s, day0)
	prev := first
	var flat, steps int
	for at := 10 * time.Second; at <= 24*time.Hour; at += 10 * time.Second {
		v := readAt(t, s, day0.Add(at))
		if v < prev {
			t.Fatalf("counter at +%s = %v, below the previous %v", at, v, prev)
		}
		if v == prev {
			flat++
		}
		steps++
		prev = v
	}
	// One amplitude per 10 s period on average: about 8640 in a day.
	if grew := prev - first; grew < 8640*0.8 || grew > 8640*1.2 {
		t.Errorf("counter grew by %v in a day, want about 8640", grew)
	}
	if flat == steps {
		t.Error("counter never moved")
	}
	// The wall clock steps back an hour: the total holds.
	if v := readAt(t, s, day0.Add(23*time.Hour)); v != prev {
		t.Errorf("after the clock stepped back the counter read %v, want it held at %v", v, prev)
	}
	// A new sensor (a restart) at the same time reads the same total:
	// it is a function of time, like a real meter.
	if v := readAt(t, newSim(t, "load1_energy", o), day0.Add(24*time.Hour)); v != prev {
		t.Errorf("restarted counter = %v, want %v", v, prev)
	}
}

func TestRandomWalk(t *testing.T) {
	o := opts(RandomWalk)
	o.Amplitude, o.Offset = 10, 230
	a := newSim(t, "grid_voltage_l1", o)
	b := newSim(t, "grid_voltage_l1", o)
	c := newSim(t, "grid_voltage_l2", o)
	var va, vc []float64
	for i := range 20000 {
		at := day0.Add(time.Duration(i) * 10 * time.Second)
		x, y := readAt(t, a, at), readAt(t, b, at)
		if x != y {
			t.Fatalf("same name, same times: %v != %v at read %d", x, y, i)
		}
		if x < 220 || x > 240 {
			t.Fatalf("walk left [offset-amplitude, offset+amplitude]: %v", x)
		}
		va = append(va, x)
		vc = append(vc, readAt(t, c, at))
	}
	if slices.Equal(va, vc) {
		t.Error("two sensors of different names walked the same path")
	}
	// Steps are small: 0.01·amplitude standard deviation.
	var maxStep float64
	for i := 1; i < len(va); i++ {
		maxStep = max(maxStep, math.Abs(va[i]-va[i-1]))
	}
	if maxStep > 10*0.01*6 || maxStep == 0 {
		t.Errorf("largest step %v, want within 6 sigma of 0.1", maxStep)
	}
}

// decimals counts the digits after the point as the value prints.
func decimals(v float64) int {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func TestResolution(t *testing.T) {
	for _, c := range []struct {
		res    float64
		places int
	}{{0.1, 1}, {0.01, 2}, {0.001, 3}, {0.2, 1}, {0.5, 1}, {1, 0}, {5, 0}, {0.25, 2}} {
		for _, w := range waveforms {
			o := opts(w)
			o.Amplitude, o.Offset, o.Noise, o.Resolution = 37.3, -3.1, 0.7, c.res
			s := newSim(t, "res", o)
			for i := range 500 {
				v := readAt(t, s, day0.Add(time.Duration(i)*97*time.Second))
				str := strconv.FormatFloat(v, 'f', -1, 64)
				if decimals(v) > c.places || str == "-0" {
					t.Fatalf("%s, resolution %v: value prints as %s", w, c.res, str)
				}
				if k := v / c.res; math.Abs(k-math.Round(k)) > 1e-6+1e-12*math.Abs(k) {
					t.Fatalf("%s, resolution %v: %v is not a multiple", w, c.res, v)
				}
			}
		}
	}
	// Without resolution, full precision.
	o := opts(Sine)
	v := readAt(t, newSim(t, "full", o), day0.Add(1234567*time.Millisecond))
	if decimals(v) < 10 {
		t.Errorf("resolution 0 should keep full precision, got %v", v)
	}
}

func TestSeed(t *testing.T) {
	o := opts(Sine)
	o.Noise = 0.5
	at := day0.Add(1234 * time.Second)
	same1, same2 := readAt(t, newSim(t, "a", o), at), readAt(t, newSim(t, "a", o), at)
	other := readAt(t, newSim(t, "b", o), at)
	if same1 != same2 {
		t.Errorf("same name and time: %v != %v", same1, same2)
	}
	if same1 == other {
		t.Error("different names gave the same noise")
	}
	o.Seed = 7
	if x, y := readAt(t, newSim(t, "a", o), at), readAt(t, newSim(t, "b", o), at); x != y {
		t.Errorf("explicit equal seeds: %v != %v", x, y)
	}
	// Noise has the standard deviation asked for.
	o = opts(Sine)
	o.Amplitude, o.Noise = 0, 2
	s := newSim(t, "n", o)
	var sum, sq float64
	const n = 20000
	for i := range n {
		v := readAt(t, s, day0.Add(time.Duration(i)*time.Second))
		sum += v
		sq += v * v
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean) > 0.1 || sd < 1.9 || sd > 2.1 {
		t.Errorf("noise mean %v sd %v, want 0 and 2", mean, sd)
	}
}

func TestReadWithoutSlotUsesNow(t *testing.T) {
	o := opts(Ramp)
	o.Amplitude, o.Period = 1, config.D(24*time.Hour)
	s := newSim(t, "r", o)
	before := time.Now()
	vals, err := s.Read(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := phase(before, 24*time.Hour), phase(after, 24*time.Hour)
	if v := vals[0].Value; hi >= lo && (v < lo || v > hi) {
		t.Errorf("ramp read at now = %v, want within [%v, %v]", v, lo, hi)
	}
}

func TestFieldAndUnit(t *testing.T) {
	o := opts(Sine)
	o.Field, o.Unit = "", "°C"
	vals, err := newSim(t, "temp", o).Read(context.Background())
	if err != nil || vals[0].Field != "" || vals[0].Unit != "°C" {
		t.Errorf("Read = %+v, %v; want empty field and unit °C", vals, err)
	}
}

func TestFailEvery(t *testing.T) {
	o := opts(Sine)
	o.FailEvery = 3
	s := newSim(t, "flaky", o)
	for i := 1; i <= 9; i++ {
		_, err := s.Read(context.Background())
		if (i%3 == 0) != (err != nil) {
			t.Errorf("read %d: err = %v", i, err)
		}
		// The sensor's name is added by its caller, once.
		if want := fmt.Sprintf("simulated failure of read %d (fail_every = 3)", i); err != nil && err.Error() != want {
			t.Errorf("read %d: error %q, want %q", i, err, want)
		}
	}
	o.FailEvery = 1
	_, err := sensors.ReadOnce(context.Background(), sensors.Configured{
		Config: sensors.Config{Name: "flaky", Driver: "sim", Options: &o},
		Sensor: newSim(t, "flaky", o),
	})
	if want := "sensor flaky (sim): read: simulated failure of read 1 (fail_every = 1)"; err == nil || err.Error() != want {
		t.Errorf("ReadOnce error %v, want %q", err, want)
	}
}

func TestDelayHonoursContext(t *testing.T) {
	o := opts(Sine)
	o.Delay = config.D(time.Hour)
	s := newSim(t, "slow", o)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read with an hour's delay and a 20ms deadline: %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Error("Read did not return when its context ended")
	}

	o.Delay = config.D(20 * time.Millisecond)
	start = time.Now()
	if _, err := newSim(t, "slow", o).Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("read with delay 20ms took %s", d)
	}

	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := newSim(t, "x", DefaultOptions()).Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Read on a cancelled context: %v", err)
	}
}

// recSink records what the sampler appends.
type recSink struct {
	mu sync.Mutex
	rs []reading.Reading
}

func (s *recSink) Append(rs []reading.Reading) {
	s.mu.Lock()
	s.rs = append(s.rs, rs...)
	s.mu.Unlock()
}

func (s *recSink) readings() []reading.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rs)
}

// The sampler passes the slot time; the value is the waveform at that time,
// however late the goroutine ran.
func TestWithSampler(t *testing.T) {
	d, _ := sensors.Lookup("sim")
	o := d.Options().(*Options)
	o.Waveform, o.Amplitude, o.Period, o.Unit = Ramp, 1000, config.D(time.Minute), "L"
	sen, err := d.New("tank_level", o)
	if err != nil {
		t.Fatal(err)
	}
	c := sensors.Configured{Config: sensors.Config{Name: "tank_level", Driver: "sim", Interval: config.D(20 * time.Millisecond)}, Sensor: sen}
	sink := &recSink{}
	s := sensors.NewSampler([]sensors.Configured{c}, sink, sensors.SamplerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(sink.readings()) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rs := sink.readings()
	if len(rs) < 5 {
		t.Fatalf("%d readings", len(rs))
	}
	for _, r := range rs {
		want := 1000 * phase(r.Time, time.Minute)
		if r.Name != "tank_level.value" || r.Unit != "L" || math.Abs(r.Value-want) > 1e-9 {
			t.Errorf("reading %+v, want tank_level.value = %v L", r, want)
		}
	}
}

// TestQuantizeMatchesDecimalRoundTrip: the integer-division path gives
// exactly the float64 the decimal round trip (FormatFloat, ParseFloat)
// gives, for every resolution shape and a wide range of values.
func TestQuantizeMatchesDecimalRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, res := range []float64{0.1, 0.01, 0.001, 0.0001, 0.2, 0.5, 0.25, 0.05, 1, 5, 10, 0.125, 1e-6} {
		o := opts(Sine)
		o.Resolution = res
		s := newSim(t, "q", o)
		if s.unit == 0 {
			t.Fatalf("resolution %v: no integer unit; the fast path is off", res)
		}
		for range 20000 {
			v := (rnd.Float64()*2 - 1) * math.Pow(10, float64(rnd.IntN(9)-3))
			got := s.quantize(v)
			want, _ := strconv.ParseFloat(strconv.FormatFloat(math.Round(v/res)*res, 'f', s.decimals, 64), 64)
			if want == 0 {
				want = 0
			}
			if got != want || math.Signbit(got) != math.Signbit(want) {
				t.Fatalf("resolution %v, value %v: quantize %v, round trip %v", res, v, got, want)
			}
		}
	}
}
