package pulse

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func TestMain(m *testing.M) {
	// Only the fake pins registered below exist; never the machine's.
	hw.HostInit = func() error { return nil }
	os.Exit(m.Run())
}

// fakePin registers a gpiotest pin under name, with an unbuffered edge
// channel: a send returns once the counter took the edge.
func fakePin(t *testing.T, name string) *gpiotest.Pin {
	t.Helper()
	p := &gpiotest.Pin{N: name, Num: -1, EdgesChan: make(chan gpio.Level)}
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(name) })
	return p
}

// mapState is a sensors.State kept in memory, shared by "restarts".
type mapState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapState) Get(k string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *mapState) Set(k string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = v
}

func (s *mapState) pulses(t *testing.T) uint64 {
	v, ok := s.Get(stateKey)
	if !ok || len(v) != 8 {
		t.Fatalf("state %q = %v", stateKey, v)
	}
	return binary.BigEndian.Uint64(v)
}

func newSensor(t *testing.T, o Options) *Sensor {
	t.Helper()
	s, err := New("meter", &o)
	if err != nil {
		t.Fatal(err)
	}
	s.poll = 20 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

func read(t *testing.T, s *Sensor) map[string]sensors.Value {
	t.Helper()
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sensors.Value{}
	for _, v := range vals {
		out[v.Field] = v
	}
	return out
}

func waitCount(t *testing.T, s *Sensor, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		c := s.counter.Count()
		s.mu.Unlock()
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %d pulses, want %d", c, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCountsAndScales(t *testing.T) {
	pin := fakePin(t, "PULSE_COUNT")
	o := DefaultOptions()
	o.Pin, o.Debounce, o.PerUnit, o.Unit, o.RateScale, o.RateUnit = "PULSE_COUNT", config.D(0), 1000, "kWh", 1000, "W"
	s := newSensor(t, o)
	v := read(t, s)
	if len(v) != 1 || v["total"].Value != 0 || v["total"].Unit != "kWh" {
		t.Fatalf("first read %+v, want total 0 kWh and no rate", v)
	}
	if pin.Pull() != gpio.PullUp {
		t.Errorf("pull = %s, want up", pin.Pull())
	}
	for range 250 {
		pin.EdgesChan <- gpio.Low
	}
	waitCount(t, s, 250)
	v = read(t, s)
	if v["total"].Value != 0.25 {
		t.Errorf("total after 250 pulses at 1000/kWh = %v, want 0.25", v["total"].Value)
	}
	if _, ok := v["rate"]; !ok || v["rate"].Unit != "W" {
		t.Errorf("second read has no rate in W: %+v", v)
	}
}

func TestRate(t *testing.T) {
	pin := fakePin(t, "PULSE_RATE")
	o := DefaultOptions()
	o.Pin, o.Debounce, o.PerUnit, o.Unit = "PULSE_RATE", config.D(0), 10, "L"
	s := newSensor(t, o)
	a := time.Now()
	read(t, s)
	b := time.Now()
	for range 40 {
		pin.EdgesChan <- gpio.Low
	}
	waitCount(t, s, 40)
	time.Sleep(20 * time.Millisecond)
	c := time.Now()
	v := read(t, s)
	d := time.Now()
	// 4 L over an interval between c-b and d-a, in L/h.
	lo, hi := 4/d.Sub(a).Hours(), 4/c.Sub(b).Hours()
	if r := v["rate"]; r.Value < lo || r.Value > hi || r.Unit != "L/h" {
		t.Errorf("rate %v %s, want between %v and %v L/h", r.Value, r.Unit, lo, hi)
	}
}

func TestDebounceRejectsBounces(t *testing.T) {
	pin := fakePin(t, "PULSE_BOUNCE")
	const db = 150 * time.Millisecond // long, so a loaded machine cannot split a burst
	o := DefaultOptions()
	o.Pin, o.Debounce = "PULSE_BOUNCE", config.D(db)
	s := newSensor(t, o)
	read(t, s)

	// Closing contact: bounces, then settles low. One pulse.
	for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low} {
		pin.EdgesChan <- l
	}
	waitCount(t, s, 1)
	// Release with bounces, settling high: not a falling transition.
	for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
		pin.EdgesChan <- l
	}
	time.Sleep(3 * db)
	// A glitch that comes back before settling is no transition either.
	pin.EdgesChan <- gpio.Low
	pin.EdgesChan <- gpio.High
	time.Sleep(3 * db)
	if v := read(t, s); v["total"].Value != 1 {
		t.Fatalf("total after one bouncing pulse = %v, want 1", v["total"].Value)
	}
	pin.EdgesChan <- gpio.Low
	waitCount(t, s, 2)
	time.Sleep(3 * db)
	if v := read(t, s); v["total"].Value != 2 {
		t.Errorf("total after a second pulse = %v, want 2", v["total"].Value)
	}
}

func TestTotalSurvivesRestart(t *testing.T) {
	pin := fakePin(t, "PULSE_STATE")
	st := &mapState{}
	st.Set(stateKey, binary.BigEndian.AppendUint64(nil, 1000)) // from an earlier run
	o := DefaultOptions()
	o.Pin, o.Debounce, o.PerUnit = "PULSE_STATE", config.D(0), 100
	s := newSensor(t, o)
	if err := s.Restore(st); err != nil {
		t.Fatal(err)
	}
	if v := read(t, s); v["total"].Value != 10 {
		t.Fatalf("restored total %v, want 10", v["total"].Value)
	}
	for range 5 {
		pin.EdgesChan <- gpio.Low
	}
	waitCount(t, s, 5)
	read(t, s)
	if n := st.pulses(t); n != 1005 {
		t.Errorf("persisted %d pulses, want 1005", n)
	}

	// The sampler closes a sensor and reads it again: nothing is lost.
	s.Close()
	if v := read(t, s); v["total"].Value != 10.05 {
		t.Errorf("total after Close and reopen %v, want 10.05", v["total"].Value)
	}
	s.Close()

	// A restart: a new sensor restores the persisted count.
	s2 := newSensor(t, o)
	if err := s2.Restore(st); err != nil {
		t.Fatal(err)
	}
	if v := read(t, s2); v["total"].Value != 10.05 {
		t.Errorf("total after restart %v, want 10.05", v["total"].Value)
	}

	bad := &mapState{}
	bad.Set(stateKey, []byte{1, 2})
	o.Pin = "GPIO_NOPE" // not the pin s2 counts on
	if err := newSensor(t, o).Restore(bad); err == nil || !strings.Contains(err.Error(), "2 bytes") {
		t.Errorf("Restore of a damaged value: %v", err)
	}
}

// Counting starts at Restore (daemon start), not at the first read an
// interval later.
func TestCountsFromRestore(t *testing.T) {
	pin := fakePin(t, "PULSE_EARLY")
	o := DefaultOptions()
	o.Pin, o.Debounce = "PULSE_EARLY", config.D(0)
	s := newSensor(t, o)
	st := &mapState{}
	if err := s.Restore(st); err != nil {
		t.Fatal(err)
	}
	pin.EdgesChan <- gpio.Low // taken only if the counter already runs
	waitCount(t, s, 1)
	if v := read(t, s); v["total"].Value != 1 {
		t.Errorf("total %v, want the pulse before the first read counted", v["total"].Value)
	}
	if st.pulses(t) != 1 {
		t.Errorf("persisted %d", st.pulses(t))
	}
}

func TestCloseStopsCounting(t *testing.T) {
	pin := fakePin(t, "PULSE_CLOSE")
	o := DefaultOptions()
	o.Pin, o.Debounce = "PULSE_CLOSE", config.D(0)
	s := newSensor(t, o)
	read(t, s)
	pin.EdgesChan <- gpio.Low
	waitCount(t, s, 1)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return: the counting goroutine did not stop")
	}
	// Nobody waits for edges any more.
	select {
	case pin.EdgesChan <- gpio.Low:
		t.Error("an edge was taken after Close")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestNotFitted(t *testing.T) {
	o := DefaultOptions()
	o.Pin = "GPIO_NOPE"
	s := newSensor(t, o)
	_, err := s.Read(context.Background())
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "pulse on pin GPIO_NOPE: no such pin on this board") {
		t.Errorf("Read of a missing pin: %v", err)
	}
}

func TestValidate(t *testing.T) {
	o := Options{PerUnit: 0, RateScale: 1000, Unit: "kWh"}
	o.Pull, o.Edge, o.Debounce = "sideways", "up", config.D(2*time.Second)
	_, err := New("m", &o)
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("New = %v", err)
	}
	keys := map[string]bool{}
	for _, e := range fe {
		keys[e.Key] = true
	}
	for _, k := range []string{"pin", "pull", "edge", "debounce", "per_unit", "rate_unit"} {
		if !keys[k] {
			t.Errorf("no error for %s in %v", k, err)
		}
	}
	o = DefaultOptions()
	o.Pin, o.Unit = "GPIO17", "m3"
	if _, err := New("m", &o); err != nil || o.RateUnit != "m3/h" {
		t.Errorf("New = %v, rate_unit filled %q, want m3/h", err, o.RateUnit)
	}
	if names := o.PinNames(); len(names) != 1 || names[0] != "GPIO17" {
		t.Errorf("PinNames = %v", names)
	}
}
