package rules

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// battery.power = voltage × current, both read by one sensor at the same
// slot but appended one call each: the result waits for the second and is
// computed once per slot, with the union of the inputs' clock flags.
func TestDeriveWaitsForTheSlotAndUnitesFlags(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "battery.power", Expr: "battery.voltage * battery.current", Unit: "W"}}})
	for i := 0; i < 3; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		c.Set(at)
		e.Append([]reading.Reading{{Name: "battery.voltage", Time: at, Value: 12, Flags: reading.ClockUnsynced}})
		e.Append([]reading.Reading{{Name: "battery.current", Time: at, Value: float64(i + 1), Flags: reading.TimeImplausible}})
	}
	got := st.named("battery.power")
	if len(got) != 3 {
		t.Fatalf("battery.power = %v, want one per slot", got)
	}
	for i, r := range got {
		if want := 12 * float64(i+1); r.Value != want || r.Unit != "W" || !r.Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("reading %d = %+v, want %g W at slot %d", i, r, want, i)
		}
		if want := reading.ClockUnsynced | reading.TimeImplausible; r.Flags != want {
			t.Errorf("flags = %d, want %d (the union of the inputs')", r.Flags, want)
		}
	}
}

// An input older than max_age (default 3 × its 1 s interval) makes the
// result missing: nothing is written, never a product with a stale value.
func TestDeriveMissingOnStaleInput(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "p", Expr: "a.v * b.v"}}})
	feed(e, c, "a.v", t0, 2)
	feed(e, c, "b.v", t0, 3)
	feed(e, c, "a.v", t0.Add(5*time.Second), 4) // b.v is 5 s old
	c.Set(t0.Add(10 * time.Second))
	e.Tick()
	got := st.named("p")
	if len(got) != 1 || got[0].Value != 6 {
		t.Fatalf("p = %v, want only 6 (the 5 s-old b.v is stale)", got)
	}
}

// A late input is waited for Grace, then the result is computed without it
// (while what it has is fresh).
func TestDeriveComputesAfterGrace(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "p", Expr: "a.v + b.v"}}})
	feed(e, c, "a.v", t0, 1)
	feed(e, c, "b.v", t0, 1)
	feed(e, c, "a.v", t0.Add(time.Second), 5) // b.v's reading of that slot is due
	if got := st.named("p"); len(got) != 1 {
		t.Fatalf("p = %v before grace, want the first slot only", got)
	}
	c.Set(t0.Add(time.Second + Grace))
	e.Tick()
	if got := st.named("p"); len(got) != 2 || got[1].Value != 6 {
		t.Fatalf("p = %v after grace, want 5+1", got)
	}
}

// Window functions over a series sampled every 10 s, against values
// worked out by hand.
func TestWindowFunctions(t *testing.T) {
	vals := []float64{10, 20, 30, 20, 40} // at 0, 10, 20, 30, 40 s
	cases := []struct {
		expr string
		want float64
	}{
		{`mean(s.v, "1m")`, 24},
		{`min(s.v, "1m")`, 10},
		{`max(s.v, "1m")`, 40},
		{`last(s.v, "1m")`, 40},
		{`delta(s.v, "1m")`, 30},
		{`rate(s.v, "1m")`, 30.0 / 40},
		// trapezoids of 10 s: (15+25+25+30)·10 s = 950 value·s = 950/3600 h
		{`integral(s.v, "1m")`, 950.0 / 3600},
		{`count(s.v, "1m")`, 5},
		// (40-20] s keeps 30, 20, 40
		{`mean(s.v, "20s")`, 30},
		{`max(abs(-3), min(2, 7)) + 0 * s.v`, 3},
		// Starlark's conditional, and its operators on floats (Python's
		// semantics: // floors, % takes the divisor's sign)
		{`1 if s.v > 30 else 0`, 1},
		{`2 if s.v > 30 and not s.v > 50 else 3`, 2},
		{`(1 if s.v < 0 or s.v == 39 else 2) + 0`, 2},
		{`7 // 2 + -7 % 4 + 12 / 8 - s.v * 0`, 3 + 1 + 1.5},
		{`1 if True != (s.v > 0) else 5`, 5},
	}
	for _, tc := range cases {
		st, c := &memStore{}, &fakeClock{}
		e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "out", Expr: tc.expr}},
			Interval: func(string) time.Duration { return 10 * time.Second }})
		for i, v := range vals {
			feed(e, c, "s.v", t0.Add(time.Duration(i)*10*time.Second), v)
		}
		got := st.named("out")
		if len(got) == 0 || math.Abs(got[len(got)-1].Value-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %g", tc.expr, got, tc.want)
		}
	}
}

// age counts seconds since the newest reading; with the input gone a rule
// on age still evaluates (that is what it is for).
func TestAgeOfASilentSeries(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{
		Derives:  []DeriveConfig{{Name: "silence", Expr: `age(pump.flow)`}},
		Interval: func(string) time.Duration { return time.Second },
	})
	feed(e, c, "pump.flow", t0, 1)
	if got := st.named("silence"); len(got) != 1 || got[0].Value != 0 {
		t.Fatalf("silence = %v, want 0", got)
	}
}

// integral does not bridge a gap longer than max_age: no energy is made up
// for a time the sensor was not read.
func TestIntegralSkipsGaps(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "e", Expr: `integral(pv.p, "24h")`}},
		Interval: func(string) time.Duration { return 10 * time.Second }})
	feed(e, c, "pv.p", t0, 3600)
	feed(e, c, "pv.p", t0.Add(10*time.Second), 3600)           // 10 s at 3600 W = 10 Wh
	feed(e, c, "pv.p", t0.Add(1*time.Hour), 3600)              // a gap of an hour: not bridged
	feed(e, c, "pv.p", t0.Add(time.Hour+10*time.Second), 3600) // another 10 Wh
	got := st.named("e")
	if len(got) == 0 || math.Abs(got[len(got)-1].Value-20) > 1e-9 {
		t.Fatalf("e = %v, want 20 Wh", got)
	}
}

// Positions are the expression's own (runes, 1-based): where a token
// starts, an error at the end of input at its last character.
func TestCompileErrorsCarryPositions(t *testing.T) {
	cases := []struct {
		src       string
		kind      Kind
		line, col int
	}{
		{"battery.voltage +", Number, 1, 17},
		{"battery.voltage < 11.8 and )", Bool, 1, 28}, // the unexpected ")"
		{`mean(battery.voltage, "1 hour")`, Number, 1, 23},
		{`mean(battery.voltage)`, Number, 1, 1},
		{"[x * 2 for x in range(1000000000)]", Number, 1, 1}, // the comprehension
		{`"a" * 1000000000`, Number, 1, 1},                   // text outside a function
		{"battery.voltage", Bool, 1, 1},
		{"sqrt(battery.voltage)", Number, 1, 1},
		{"[1, 2]", Number, 1, 1},
		{"let x = 1; x", Number, 1, 5}, // "x": Starlark has no statements here
		{"a.v +\n  * 2", Number, 2, 3},
		{"a.v[0]", Number, 1, 4},
		{"a.v in (1, 2)", Bool, 1, 5},
		{"a.v > 1 if a.v else 0", Bool, 1, 12}, // the condition
		{"battery.voltage < 11.8 and 12", Bool, 1, 24},
		{`mean(a.v, "1h", x = 1)`, Number, 1, 17},
		{"(lambda: 1)()", Number, 1, 1},
		{"a.v) + (b.v", Number, 1, 4}, // would close the parenthesis Compile adds
		{"a.v ** 2", Number, 1, 6},
		{"a.v if a.v > 1 else a.v > 2", Number, 1, 16},
		{"b.v + None", Number, 1, 7},
		{"mean + 1", Number, 1, 1},
		{"a.v.__class__()", Number, 1, 1},
	}
	for _, tc := range cases {
		_, err := Compile(tc.src, tc.kind)
		var xe *ExprError
		if !errors.As(err, &xe) {
			t.Errorf("%q: err = %v, want an ExprError", tc.src, err)
			continue
		}
		if xe.Line != tc.line || xe.Col != tc.col {
			t.Errorf("%q: at %d:%d (%s), want %d:%d", tc.src, xe.Line, xe.Col, xe.Msg, tc.line, tc.col)
		}
	}
}

// The bounds: source size, syntax nodes; the largest expression allowed
// runs well within the interpreter's step bound.
func TestCompileBounds(t *testing.T) {
	if _, err := Compile(strings.Repeat(" ", MaxExprBytes)+"1", Number); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("an expression of %d bytes: err = %v", MaxExprBytes+1, err)
	}
	// a.v + a.v + … : n terms are 2n-1 nodes
	big := strings.TrimSuffix(strings.Repeat("a.v + ", MaxExprNodes/2+1), " + ")
	if _, err := Compile(big, Number); err == nil || !strings.Contains(err.Error(), "parts") {
		t.Errorf("%d terms: err = %v, want the node bound", MaxExprNodes/2+1, err)
	}
	most := strings.TrimSuffix(strings.Repeat("a.v + ", MaxExprNodes/2), " + ")
	x, err := Compile(most, Number)
	if err != nil {
		t.Fatalf("%d terms: %v", MaxExprNodes/2, err)
	}
	v, _, _, ok, err := x.eval(constSource(2), t0)
	if !ok || err != nil || v != 2*MaxExprNodes/2 {
		t.Fatalf("%d terms of 2 = %v, %v, %v", MaxExprNodes/2, v, ok, err)
	}
}

// constSource gives every series the value v, fresh.
type constSource float64

func (c constSource) value(string, time.Time) (float64, reading.Flags, bool) {
	return float64(c), 0, true
}
func (c constSource) newest(string) (point, bool) { return point{v: float64(c)}, true }
func (c constSource) window(string, time.Duration, time.Time) ([]point, time.Duration, bool) {
	return []point{{v: float64(c)}}, 0, true
}

// Division by zero is not a number: the result is missing, not an error
// and not a made-up value.
func TestDivisionByZeroIsMissing(t *testing.T) {
	for _, src := range []string{"a.v / b.v", "a.v // b.v", "a.v % b.v"} {
		x, err := Compile(src, Number)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok, err := x.eval(constSource(0), t0); ok || err != nil {
			t.Errorf("%s over zeros: ok %v, err %v; want missing", src, ok, err)
		}
	}
}

// A series may be both a name and a prefix of others: a sensor "pump"
// whose driver names one series "pump" and a derived "pump.hours".
func TestSeriesThatIsAlsoAPrefix(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	// f, len, True.x: names the Starlark module or universe has, none
	// of which may shadow a series
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "p", Expr: "pump * 10 + pump.hours + pump.hours.total * 100 + f * 1000 + len * 10000 + True.x * 100000"}}})
	c.Set(t0)
	e.Append([]reading.Reading{{Name: "pump", Time: t0, Value: 1}, {Name: "pump.hours", Time: t0, Value: 2}, {Name: "pump.hours.total", Time: t0, Value: 3},
		{Name: "f", Time: t0, Value: 4}, {Name: "len", Time: t0, Value: 5}, {Name: "True.x", Time: t0, Value: 6}})
	if got := st.named("p"); len(got) != 1 || got[0].Value != 654312 {
		t.Fatalf("p = %v, want 1×10 + 2 + 3×100 + 4×1000 + 5×10⁴ + 6×10⁵", got)
	}
}

// Series names as written, dots and all, in every place a series goes.
func TestSeriesNamesAsWritten(t *testing.T) {
	x, err := Compile(`battery.voltage * battery.current + max(pv.string1.power, "1h") + age(fridge.temp) + mean("pv-2.power", "5m")`, Number)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Latest; len(got) != 2 || got[0] != "battery.current" || got[1] != "battery.voltage" {
		t.Errorf("latest = %v", got)
	}
	if x.Windows["pv.string1.power"] != time.Hour || x.Windows["pv-2.power"] != 5*time.Minute {
		t.Errorf("windows = %v", x.Windows)
	}
	if len(x.Ages) != 1 || x.Ages[0] != "fridge.temp" {
		t.Errorf("ages = %v", x.Ages)
	}
}

// min_interval spaces results in reading time: 10 s inputs, one result
// every 30 s.
func TestDeriveMinInterval(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Derives: []DeriveConfig{{Name: "p", Expr: "a.v * 2", MinInterval: config.D(30 * time.Second)}},
		Interval: func(string) time.Duration { return 10 * time.Second }})
	for i := 0; i <= 9; i++ {
		feed(e, c, "a.v", t0.Add(time.Duration(i)*10*time.Second), float64(i))
	}
	got := st.named("p")
	if len(got) != 4 || got[1].Value != 6 || !got[3].Time.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("p = %v, want 0, 6, 12, 18 at 0, 30, 60, 90 s", got)
	}
}
