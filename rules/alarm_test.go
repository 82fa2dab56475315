package rules

import (
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

func batteryRule() RuleConfig {
	return RuleConfig{Name: "battery_low", When: "battery.voltage < 11.8", Clear: "battery.voltage > 12.4",
		For: config.D(30 * time.Second), Severity: "critical"}
}

// A voltage falling 0.1 V/s from 13.0 V crosses 11.8 V at t=13 s (11.7 V
// is the first value below it). The condition must then hold 30 s: the
// alarm is raised by the reading at t=43 s, once, and stays up while
// the ramp goes on.
func TestRampRaisesOneAlarmAfterFor(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	var urgent []string
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{batteryRule()}, Urgent: func(s string) { urgent = append(urgent, s) }})
	for i := 0; i <= 60; i++ {
		feed(e, c, "battery.voltage", t0.Add(time.Duration(i)*time.Second), 13.0-0.1*float64(i))
	}
	var raises []reading.Reading
	for _, r := range st.named("alarm.battery_low") {
		if r.Value == 1 {
			raises = append(raises, r)
		}
	}
	if len(raises) != 1 {
		t.Fatalf("raises = %v, want exactly one", raises)
	}
	if want := t0.Add(43 * time.Second); !raises[0].Time.Equal(want) {
		t.Errorf("raised at %s, want %s (first below 11.8 V at 13 s, plus for = 30 s)", raises[0].Time, want)
	}
	if len(urgent) != 1 || urgent[0] != "alarm.battery_low" {
		t.Errorf("urgent = %v, want one alarm.battery_low", urgent)
	}
	if got := e.Alarms(); len(got) != 1 || got[0].State != "raised" || got[0].Severity != "critical" {
		t.Errorf("status = %+v", got)
	}
}

// Once raised, values between when (11.8) and clear (12.4) hold it; only
// a value above 12.4 V clears it, and the clear is a reading 0.
func TestHysteresisHoldsThroughNoiseAndClearPublishesZero(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{r}})
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	feed(e, c, "battery.voltage", at(0), 11.5) // raised at once (for = 0)
	noise := []float64{11.9, 12.3, 11.7, 12.39, 12.0, 12.4, 11.85}
	for i, v := range noise {
		feed(e, c, "battery.voltage", at(1+i), v)
	}
	got := st.named("alarm.battery_low")
	if len(got) != 1 || got[0].Value != 1 {
		t.Fatalf("after noise inside the hysteresis band: %v, want one raise and no clear", got)
	}
	feed(e, c, "battery.voltage", at(20), 12.41)
	got = st.named("alarm.battery_low")
	if len(got) != 2 || got[1].Value != 0 || !got[1].Time.Equal(at(20)) {
		t.Fatalf("after 12.41 V: %v, want a 0 at %s", got, at(20))
	}
	// Cleared: the noise below 12.4 does not raise it again until it is
	// below 11.8.
	feed(e, c, "battery.voltage", at(21), 12.0)
	if got := st.named("alarm.battery_low"); len(got) != 2 {
		t.Fatalf("12.0 V after the clear: %v", got)
	}
}

// A condition that stops holding before for resets the wait.
func TestForRestartsWhenConditionBreaks(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{batteryRule()}})
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	for i := 0; i < 29; i++ {
		feed(e, c, "battery.voltage", at(i), 11.0)
	}
	feed(e, c, "battery.voltage", at(29), 12.0) // breaks the 30 s
	for i := 30; i < 59; i++ {
		feed(e, c, "battery.voltage", at(i), 11.0)
	}
	for _, r := range st.named("alarm.battery_low") {
		if r.Value == 1 {
			t.Fatalf("raised at %s, but the condition never held 30 s", r.Time)
		}
	}
	feed(e, c, "battery.voltage", at(60), 11.0) // 30..60 held 30 s
	if got := st.named("alarm.battery_low"); len(got) == 0 || got[len(got)-1].Value != 1 {
		t.Fatalf("not raised after 30 s of holding: %v", got)
	}
}

// Missing input: the alarm keeps its state, nothing is written, status
// says stale; a 0 is never invented.
func TestMissingInputMakesRuleStaleNotCleared(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{r}})
	feed(e, c, "battery.voltage", t0, 11.0)
	n := len(st.rs)
	c.Set(t0.Add(10 * time.Second)) // interval 1 s: stale after 3 s
	e.Tick()
	if len(st.rs) != n {
		t.Fatalf("readings written on missing input: %v", st.rs[n:])
	}
	if got := e.Alarms(); got[0].State != "stale" || !got[0].Raised {
		t.Fatalf("status %+v, want stale and still raised", got[0])
	}
	feed(e, c, "battery.voltage", t0.Add(11*time.Second), 11.0)
	if got := e.Alarms(); got[0].State != "raised" {
		t.Fatalf("state %q after the input came back, want raised", got[0].State)
	}
	if got := st.named("alarm.battery_low"); len(got) != 1 {
		t.Fatalf("alarm readings %v, want the one raise", got)
	}
}

// The state persists with the transition; a new engine on the same store
// (a restart) knows the alarm is up and does not raise it again.
func TestRestartNeitherRepeatsNorForgets(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, st, c, Options{Rules: []RuleConfig{r}})
	feed(e, c, "battery.voltage", t0, 11.0)
	e.Close()
	e2 := newEngine(t, st, c, Options{Rules: []RuleConfig{r}})
	if got := e2.Alarms(); got[0].State != "raised" || got[0].Since != t0.Format(time.RFC3339) {
		t.Fatalf("after restart: %+v, want raised since %s", got[0], t0)
	}
	feed(e2, c, "battery.voltage", t0.Add(time.Second), 11.0)
	if got := st.named("alarm.battery_low"); len(got) != 1 {
		t.Fatalf("alarm readings %v: the restart repeated the raise", got)
	}
	feed(e2, c, "battery.voltage", t0.Add(2*time.Second), 13.0)
	if got := st.named("alarm.battery_low"); len(got) != 2 || got[1].Value != 0 {
		t.Fatalf("alarm readings %v: want the clear after restart", got)
	}
}
