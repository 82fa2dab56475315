package sensors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func f64(v float64) *float64 { return &v }

func TestFieldApply(t *testing.T) {
	fc := &FieldConfig{Scale: f64(1.02), Offset: -0.01, Min: f64(0), Max: f64(60), Unit: "V"}
	v, err := fc.Apply(Value{Field: "voltage", Value: 12.5, Unit: "mV"})
	if err != nil || math.Abs(v.Value-(12.5*1.02-0.01)) > 1e-12 || v.Unit != "V" || v.Field != "voltage" {
		t.Errorf("Apply = %+v, %v", v, err)
	}
	// Bounds are inclusive, and checked on the calibrated value.
	if _, err := (&FieldConfig{Min: f64(0), Max: f64(60)}).Apply(Value{Value: 60}); err != nil {
		t.Errorf("max itself rejected: %v", err)
	}
	_, err = fc.Apply(Value{Field: "voltage", Value: 59})
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `field "voltage": 60.17 V outside [0, 60] (raw 59)`) {
		t.Errorf("out of range error = %v", err)
	}
	_, err = (&FieldConfig{Min: f64(-40)}).Apply(Value{Field: "t", Value: -41})
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), "outside [-40, inf]") {
		t.Errorf("open upper bound error = %v", err)
	}
	// No config: the value passes untouched.
	if v, err := (*FieldConfig)(nil).Apply(Value{Field: "x", Value: 3, Unit: "u"}); err != nil || v.Value != 3 || v.Unit != "u" {
		t.Errorf("nil Apply = %+v, %v", v, err)
	}
	// Unset scale means 1, not 0.
	if v, _ := (&FieldConfig{Offset: 1}).Apply(Value{Value: 2}); v.Value != 3 {
		t.Errorf("offset only: %v, want 3", v.Value)
	}
}

func TestFieldValidate(t *testing.T) {
	c := cfg("battery", 10*time.Second, time.Second)
	c.Fields = map[string]FieldConfig{
		"voltage":  {Scale: f64(0)},
		"current":  {Min: f64(5), Max: f64(1)},
		"bad name": {},
		"power":    {Offset: math.Inf(1), Unit: "W\n"},
		"ok":       {Scale: f64(2), Min: f64(1), Max: f64(1)},
	}
	err := c.Validate()
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("Validate = %v, want FieldErrors", err)
	}
	got := map[string]string{}
	for _, e := range fe {
		if e.Key != "driver" { // "fake" is not registered here
			got[e.Key] = e.Msg
		}
	}
	want := map[string]string{
		`fields."bad name"`:    "invalid field name",
		"fields.current.min":   "min (5) is above max (1)",
		"fields.power.offset":  "must be a finite number",
		"fields.power.unit":    "printable",
		"fields.voltage.scale": "must not be 0",
	}
	for k, w := range want {
		if !strings.Contains(got[k], w) {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("errors %v, want only %v", got, want)
	}
}

func TestSamplerCalibrates(t *testing.T) {
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return []Value{
			{Field: "voltage", Value: 10, Unit: "V"},
			{Field: "current", Value: float64(n % 2 * 100), Unit: "A"}, // 0, 100, 0, 100 ...
			{Field: "raw", Value: 7},
		}, nil
	}}
	c := cfg("bat", 10*time.Millisecond, 10*time.Millisecond)
	c.Fields = map[string]FieldConfig{
		"voltage": {Scale: f64(1.5), Offset: 1, Unit: "Vdc"},
		"current": {Max: f64(50)},
		"typo":    {Scale: f64(2)},
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
	sink := &recSink{}
	s, stop := run(t, []Configured{{c, f}}, sink, SamplerOptions{Log: log})
	waitUntil(t, "reads", func() bool { return statsOf(s, "bat").Reads >= 4 })
	stop()

	for _, r := range sink.of("bat.voltage") {
		if r.Value != 16 || r.Unit != "Vdc" {
			t.Fatalf("voltage reading %+v, want 16 Vdc", r)
		}
	}
	for _, r := range sink.of("bat.current") {
		if r.Value != 0 {
			t.Fatalf("stored an out-of-range current: %+v", r)
		}
	}
	if raw := sink.of("bat.raw"); len(raw) == 0 || raw[0].Value != 7 {
		t.Errorf("uncalibrated field: %+v", raw)
	}
	st := statsOf(s, "bat")
	// Reads alternate between an in-range and an out-of-range current.
	if st.OutOfRange == 0 || st.OutOfRange > st.Reads/2+1 || st.Errors != 0 || st.BadValues != 0 {
		t.Errorf("stats %+v", st)
	}
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if !strings.Contains(text, "typo") || !strings.Contains(text, "outside [-inf, 50]") {
		t.Errorf("log does not name the missing field and the range:\n%s", text)
	}
}

// A read whose every value is out of range is a successful read that stores
// nothing: no backoff, no re-open.
func TestAllOutOfRangeIsNotAFailure(t *testing.T) {
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return []Value{{Field: "t", Value: 85}}, nil
	}}
	c := cfg("probe", 10*time.Millisecond, 10*time.Millisecond)
	c.Fields = map[string]FieldConfig{"t": {Max: f64(80)}}
	sink := &recSink{}
	s, stop := run(t, []Configured{{c, f}}, sink, SamplerOptions{})
	waitUntil(t, "reads", func() bool { return statsOf(s, "probe").Reads >= 3 })
	stop()
	st := statsOf(s, "probe")
	if st.Errors != 0 || st.OutOfRange < 3 || len(sink.batches()) != 0 || f.closes.Load() != 1 {
		t.Errorf("stats %+v, batches %d, closes %d", st, len(sink.batches()), f.closes.Load())
	}
}

func TestReadOnceCalibrates(t *testing.T) {
	f := &fake{read: func(ctx context.Context, n int) ([]Value, error) {
		return []Value{{Field: "a", Value: 2}, {Field: "b", Value: 100}}, nil
	}}
	c := cfg("s", 10*time.Second, 0)
	c.Fields = map[string]FieldConfig{"a": {Scale: f64(10)}, "b": {Max: f64(10)}}
	rs, err := ReadOnce(context.Background(), Configured{c, f})
	if len(rs) != 1 || rs[0].Name != "s.a" || rs[0].Value != 20 {
		t.Errorf("ReadOnce = %+v", rs)
	}
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `sensor s (fake): field "b": 100 outside [-inf, 10]`) {
		t.Errorf("ReadOnce error = %v", err)
	}
}

// BenchmarkCalibrate is the sampler's added cost per read of an ina-like
// sensor with three calibrated fields.
func BenchmarkCalibrate(b *testing.B) {
	fields := map[string]FieldConfig{
		"voltage": {Scale: f64(1.02), Offset: -0.01, Min: f64(0), Max: f64(60)},
		"current": {Scale: f64(0.98), Max: f64(20)},
		"power":   {Unit: "kW", Scale: f64(0.001)},
	}
	vals := []Value{{Field: "voltage", Value: 12.6, Unit: "V"}, {Field: "current", Value: 3.2, Unit: "A"}, {Field: "power", Value: 40.3, Unit: "W"}}
	in := make([]Value, len(vals))
	b.ReportAllocs()
	for b.Loop() {
		copy(in, vals)
		out, oor := calibrate(fields, in)
		if len(out) != 3 || oor != nil {
			b.Fatal(out, oor)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/3, "ns/value")
}
