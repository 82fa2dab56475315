package rules

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// discard is a Store that keeps nothing: the benchmarks measure the
// engine, not the buffer.
type discard struct{}

func (discard) Append([]reading.Reading)                      {}
func (discard) AppendState([]reading.Reading, string, []byte) {}
func (discard) GetState(string) ([]byte, bool)                { return nil, false }
func (discard) Read(uint64, int) ([]reading.Reading, error)   { return nil, nil }
func (discard) Bounds() (uint64, uint64)                      { return 1, 0 }

// benchEngine feeds one reading per op, 10 s apart, to an engine with o.
func benchEngine(b *testing.B, o Options, series string, value func(i int) float64) {
	c := &fakeClock{}
	o.Store, o.Now = discard{}, c.Now
	o.Interval = func(string) time.Duration { return 10 * time.Second }
	e, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]reading.Reading, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := t0.Add(time.Duration(i) * 10 * time.Second)
		c.Set(t)
		rs[0] = reading.Reading{Name: series, Time: t, Value: value(i)}
		e.Append(rs)
	}
}

// BenchmarkRule is one reading through a rule with hysteresis: the cost a
// [[rule]] adds to each reading of its input.
func BenchmarkRule(b *testing.B) {
	r := RuleConfig{Name: "battery_low", When: "battery.voltage < 11.8", Clear: "battery.voltage > 12.4",
		For: config.D(30 * time.Second), Severity: "critical"}
	benchEngine(b, Options{Rules: []RuleConfig{r}}, "battery.voltage", func(i int) float64 { return 11 + float64(i%20)/10 })
}

// BenchmarkDerive is one reading through battery.power = v × i (the
// second input is kept fresh by the same series, read twice).
func BenchmarkDerive(b *testing.B) {
	d := DeriveConfig{Name: "battery.power", Expr: "battery.voltage * battery.voltage * 2 + abs(battery.voltage - 12)", Unit: "W"}
	benchEngine(b, Options{Derives: []DeriveConfig{d}}, "battery.voltage", func(i int) float64 { return 12 + float64(i%7)/10 })
}

// BenchmarkIntegralDay is one reading through integral(…, "24h") over a
// full day of 10 s readings (8,640 points): the window functions' worst
// case the README quotes.
func BenchmarkIntegralDay(b *testing.B) {
	d := DeriveConfig{Name: "pv.energy_day", Expr: `integral(pv.power, "24h") / 1000`, Unit: "kWh"}
	c := &fakeClock{}
	e, err := New(Options{Derives: []DeriveConfig{d}, Store: discard{}, Now: c.Now,
		Interval: func(string) time.Duration { return 10 * time.Second }})
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]reading.Reading, 1)
	for i := 0; i < 8640; i++ { // fill the day
		t := t0.Add(time.Duration(i) * 10 * time.Second)
		c.Set(t)
		rs[0] = reading.Reading{Name: "pv.power", Time: t, Value: 1000}
		e.Append(rs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := t0.Add(time.Duration(8640+i) * 10 * time.Second)
		c.Set(t)
		rs[0] = reading.Reading{Name: "pv.power", Time: t, Value: 1000}
		e.Append(rs)
	}
}

// BenchmarkRebuildDay is the start-up cost of a day's window: a ring
// holding a day of the reference workload (40 series every 10 s, 345,600
// readings) is scanned once for the one series the window reads.
func BenchmarkRebuildDay(b *testing.B) {
	ring, err := buffer.Open(filepath.Join(b.TempDir(), "buffer.db"), buffer.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ring.Close()
	rs := make([]reading.Reading, 40)
	for i := 0; i < 8640; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		for j := range rs {
			rs[j] = reading.Reading{Name: fmt.Sprintf("s%02d.value", j), Time: at, Value: float64(i)}
		}
		ring.Append(rs)
		if i%500 == 0 {
			if err := ring.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := ring.Flush(); err != nil {
		b.Fatal(err)
	}
	c := &fakeClock{}
	c.Set(t0.Add(24 * time.Hour))
	d := DeriveConfig{Name: "e", Expr: `integral(s07.value, "24h")`}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := New(Options{Derives: []DeriveConfig{d}, Store: ring, Now: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(e.ser["s07.value"].pts); n != 8639 {
			b.Fatalf("rebuilt %d points, want 8639 (the day after the cutoff)", n)
		}
	}
}

// BenchmarkEval is one evaluation of an expression alone (no engine),
// the interpreter's share of the figures above: a rule's comparison and a
// derive of four operations.
func BenchmarkEval(b *testing.B) {
	for _, src := range []struct {
		name, src string
		kind      Kind
	}{
		{"rule", "battery.voltage < 11.8", Bool},
		{"derive", "battery.voltage * battery.current * 2 + abs(battery.voltage - 12)", Number},
	} {
		b.Run(src.name, func(b *testing.B) {
			x, err := Compile(src.src, src.kind)
			if err != nil {
				b.Fatal(err)
			}
			s := benchSource{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.v = 11 + float64(i%20)/10 // a new value each time, as a sensor's
				if _, _, _, ok, err := x.eval(&s, t0); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// benchSource gives every series v, fresh.
type benchSource struct{ v float64 }

func (s *benchSource) value(string, time.Time) (float64, reading.Flags, bool) { return s.v, 0, true }
func (s *benchSource) newest(string) (point, bool)                            { return point{v: s.v}, true }
func (s *benchSource) window(string, time.Duration, time.Time) ([]point, time.Duration, bool) {
	return []point{{v: s.v}}, 0, true
}
