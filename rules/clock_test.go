package rules

import (
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/outputs"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// A box without RTC boots with a clock 3 h ahead, reads, then NTP sets
// it right: rules and windows carry on from the corrected time instead of
// waiting 3 h for the clock to pass the wrong readings.
func TestClockStepBack(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	r := batteryRule()
	r.For.Duration = 0
	e := newEngine(t, st, c, Options{
		Rules:   []RuleConfig{r},
		Derives: []DeriveConfig{{Name: "n", Expr: `count(battery.voltage, "1m")`}},
	})
	ahead := t0.Add(3 * time.Hour)
	feed(e, c, "battery.voltage", ahead, 12.8)
	feed(e, c, "battery.voltage", ahead.Add(time.Second), 12.8)
	// synced: back to t0
	feed(e, c, "battery.voltage", t0, 11.0)
	feed(e, c, "battery.voltage", t0.Add(time.Second), 11.0)
	if got := st.named("alarm.battery_low"); len(got) != 2 || got[1].Value != 1 || !got[1].Time.Equal(t0) {
		t.Fatalf("alarm after the step back: %v, want the raise at %s", got, t0)
	}
	got := st.named("n")
	if last := got[len(got)-1]; last.Value != 2 || !last.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("count after the step back = %v, want 2 readings at %s (the ones before the step dropped)", last, t0.Add(time.Second))
	}
}

// A clock step forward (or readings missing for longer than max_age) in
// the middle of `for` does not count as holding: the wait starts again.
func TestForDoesNotSpanAGap(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{batteryRule()}}) // for 30 s, interval 1 s
	feed(e, c, "battery.voltage", t0, 11.0)
	feed(e, c, "battery.voltage", t0.Add(time.Second), 11.0)
	later := t0.Add(2 * time.Hour) // NTP step forward
	feed(e, c, "battery.voltage", later, 11.0)
	if got := st.named("alarm.battery_low"); len(got) != 0 {
		t.Fatalf("raised across a 2 h gap: %v", got)
	}
	for i := 1; i <= 30; i++ {
		feed(e, c, "battery.voltage", later.Add(time.Duration(i)*time.Second), 11.0)
	}
	if got := st.named("alarm.battery_low"); len(got) != 1 || !got[0].Time.Equal(later.Add(30*time.Second)) {
		t.Fatalf("alarm %v, want raised 30 s after the gap", got)
	}
}

// A config change hands the outputs over: a relay configured as before
// keeps its state and hold (no pass by safe), one that changed goes safe.
func TestHandoverKeepsUnchangedOutputs(t *testing.T) {
	pin := &levelLog{Pin: &gpiotest.Pin{N: "GPIO23", Num: 23}}
	st, c := &memStore{}, &fakeClock{}
	c.Set(t0)
	r := batteryRule()
	r.For.Duration = 0
	relay := loadRelay()
	relay.MinSwitch.Duration = 0
	open := func(oc outputs.Config) (outputs.Driver, error) { return outputs.GPIO(pin, oc) }
	o := Options{Rules: []RuleConfig{r}, Outputs: []outputs.Config{relay}, OpenOutput: open}
	e := newEngine(t, st, c, o)
	feed(e, c, "battery.voltage", t0.Add(time.Second), 12.8) // on (low)
	before := len(pin.log())

	o.Derives = []DeriveConfig{{Name: "x", Expr: "battery.voltage * 2"}} // a change elsewhere
	o.Adopt = e.Handover(o.Outputs)
	e = newEngine(t, st, c, o)
	if got := pin.log(); len(got) != before {
		t.Fatalf("the line was driven again by the handover: %v", got[before:])
	}
	if n := len(st.named("output.load_relay")); n != 2 {
		t.Fatalf("%d output readings, want 2 (start, on): the handover is no switch", n)
	}
	if got := pin.log(); got[len(got)-1] != gpio.Low {
		t.Fatalf("relay off after the handover: %v", got)
	}

	changed := relay
	changed.MinSwitch.Duration = time.Minute
	kept := e.Handover([]outputs.Config{changed})
	if len(kept) != 0 {
		t.Fatalf("a changed output was handed over: %v", kept)
	}
	if got := pin.log(); got[len(got)-1] != gpio.High {
		t.Fatalf("a changed output did not go safe: %v", got)
	}
}
