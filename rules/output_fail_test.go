package rules

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/outputs"
)

// flakyDriver fails every Set while broken (a Modbus relay that does not
// answer), and counts the attempts.
type flakyDriver struct {
	mu     sync.Mutex
	broken bool
	sets   []bool
	state  *bool // what the device took
}

func (f *flakyDriver) Set(on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, on)
	if f.broken {
		return errors.New("no answer from unit 1 on /dev/ttyUSB0 (writing coil 0x0003)")
	}
	f.state = &on
	return nil
}

func (f *flakyDriver) Close() error { return nil }

// An output whose writes fail claims nothing: no output.<name> reading
// until the device takes a state; each evaluation tries once (no busy
// loop); the failure is logged once, not at every evaluation.
func TestFailedWritesClaimNoState(t *testing.T) {
	st, c := &memStore{}, &fakeClock{}
	c.Set(t0)
	drv := &flakyDriver{broken: true}
	var logBuf bytes.Buffer
	oc := loadRelay()
	oc.MinSwitch = config.D(0)
	r := batteryRule()
	r.For = config.D(0)
	e := newEngine(t, st, c, Options{
		Rules:      []RuleConfig{r},
		Outputs:    []outputs.Config{oc},
		Interval:   func(string) time.Duration { return 10 * time.Second },
		OpenOutput: func(outputs.Config) (outputs.Driver, error) { return drv, nil },
		Log:        slog.New(slog.NewTextHandler(&logBuf, nil)),
	})
	if got := st.named("output.load_relay"); len(got) != 0 {
		t.Fatalf("a failed start made readings %v", got)
	}
	for s := 0; s < 30; s += 10 {
		feed(e, c, "battery.voltage", t0.Add(time.Duration(s)*time.Second), 12.8)
	}
	if got := st.named("output.load_relay"); len(got) != 0 {
		t.Fatalf("failed writes made readings %v", got)
	}
	drv.mu.Lock()
	n := len(drv.sets)
	drv.mu.Unlock()
	if n != 5 { // the start, then one try per evaluation: New's own and three readings'
		t.Errorf("%d writes for a start and four evaluations, want 5", n)
	}
	if k := strings.Count(logBuf.String(), "no answer from unit 1"); k != 1 { // the same error each time
		t.Errorf("the same failure logged %d times:\n%s", k, logBuf.String())
	}
	drv.mu.Lock()
	drv.broken = false
	drv.mu.Unlock()
	feed(e, c, "battery.voltage", t0.Add(30*time.Second), 12.8)
	got := st.named("output.load_relay")
	if len(got) != 1 || got[0].Value != 1 || !got[0].Time.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("readings once the device answers: %v, want one on at 30s", got)
	}
	if drv.state == nil || !*drv.state {
		t.Fatal("the device was not set on")
	}
	if !strings.Contains(logBuf.String(), "output written again") {
		t.Errorf("recovery not logged:\n%s", logBuf.String())
	}
}
