package rules

import (
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/outputs"
)

// levelLog is a gpiotest pin that remembers every level driven.
type levelLog struct {
	*gpiotest.Pin
	mu     sync.Mutex
	levels []gpio.Level
}

func (p *levelLog) Out(l gpio.Level) error {
	p.mu.Lock()
	p.levels = append(p.levels, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *levelLog) log() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.levels...)
}

// The mini-grid's load relay: on (load connected) while the battery alarm
// is not raised, off (load shed) when it is; active low, as most relay
// boards are: on is a low line. min_switch = 5m.
func loadRelay() outputs.Config {
	c := outputs.DefaultConfig()
	c.Name, c.Driver, c.Pin, c.Active = "load_relay", "gpio", "GPIO23", "low"
	c.On = "alarm.battery_low == 0"
	c.MinSwitch = config.D(5 * time.Minute)
	return c
}

func TestGPIOOutputMinSwitchAndSafe(t *testing.T) {
	pin := &levelLog{Pin: &gpiotest.Pin{N: "GPIO23", Num: 23}}
	st, c := &memStore{}, &fakeClock{}
	c.Set(t0)
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, st, c, Options{
		Rules:      []RuleConfig{r},
		Outputs:    []outputs.Config{loadRelay()},
		Interval:   func(string) time.Duration { return 10 * time.Second },
		OpenOutput: func(oc outputs.Config) (outputs.Driver, error) { return outputs.GPIO(pin, oc) },
	})
	// Start: safe (off = high on an active-low line) before anything.
	if got := pin.log(); len(got) == 0 || got[0] != gpio.High {
		t.Fatalf("levels at start %v, want high (off, active low) first", got)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// Battery fine: the rule is known cleared, the relay wants on, but the
	// start was a switch less than 5 min ago: held.
	for s := 0; s < 60; s += 10 {
		feed(e, c, "battery.voltage", at(time.Duration(s)*time.Second), 12.8)
	}
	if got := pin.log(); got[len(got)-1] != gpio.High {
		t.Fatalf("switched on within min_switch of the start: %v", got)
	}
	feed(e, c, "battery.voltage", at(5*time.Minute), 12.8)
	if got := pin.log(); got[len(got)-1] != gpio.Low {
		t.Fatalf("not on after min_switch: %v", got)
	}
	// The battery drops at 5m10s: the alarm rises at once, but the relay
	// switched on at 5m: it stays on until 10m, then sheds the load.
	feed(e, c, "battery.voltage", at(5*time.Minute+10*time.Second), 11.5)
	feed(e, c, "battery.voltage", at(9*time.Minute+50*time.Second), 11.5)
	if got := pin.log(); got[len(got)-1] != gpio.Low {
		t.Fatalf("shed before min_switch: %v", got)
	}
	feed(e, c, "battery.voltage", at(10*time.Minute), 11.5)
	if got := pin.log(); got[len(got)-1] != gpio.High {
		t.Fatalf("load not shed after min_switch: %v", got)
	}
	// Recovery at 12.6 V at 15m: the alarm clears, the relay goes on.
	feed(e, c, "battery.voltage", at(15*time.Minute), 12.6)
	if got := pin.log(); got[len(got)-1] != gpio.Low {
		t.Fatalf("load not back on: %v", got)
	}
	// The battery sensor goes silent at 15m. 30 s later (3 × 10 s) the
	// rule is stale, the expression cannot be evaluated: safe. The relay
	// switched at 15m, so safe waits for 20m.
	c.Set(at(16 * time.Minute))
	e.Tick()
	if got := pin.log(); got[len(got)-1] != gpio.Low {
		t.Fatalf("went safe within min_switch: %v", got)
	}
	c.Set(at(20 * time.Minute))
	e.Tick()
	if got := pin.log(); got[len(got)-1] != gpio.High {
		t.Fatalf("not safe (off) on missing input: %v", got)
	}
	// Every switch is a reading output.load_relay: off at start, on at
	// 5m, off at 10m, on at 15m, off (safe) at 20m.
	want := []struct {
		at time.Duration
		v  float64
	}{{0, 0}, {5 * time.Minute, 1}, {10 * time.Minute, 0}, {15 * time.Minute, 1}, {20 * time.Minute, 0}}
	got := st.named("output.load_relay")
	if len(got) != len(want) {
		t.Fatalf("output readings %v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Value != w.v || !got[i].Time.Equal(at(w.at)) {
			t.Errorf("switch %d = %v at %s, want %v at %s", i, got[i].Value, got[i].Time, w.v, at(w.at))
		}
	}
	// No level was driven that is not in the readings (no chatter).
	changes := 0
	levels := pin.log()
	for i := 1; i < len(levels); i++ {
		if levels[i] != levels[i-1] {
			changes++
		}
	}
	if changes != 4 {
		t.Errorf("line changed %d times (%v), want 4", changes, levels)
	}
	// Shutdown: safe whatever the hold; already off here.
	e.Close()
	if got := pin.log(); got[len(got)-1] != gpio.High {
		t.Fatalf("not safe at shutdown: %v", got)
	}
}
