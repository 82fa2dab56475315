package ina219

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

// The calibration of the datasheet's equations 1–3 for the defaults
// (0.1 Ω shunt, 3.2 A max):
//
//	Current_LSB = 3.2 A / 2^15 = 97.65625 µA (periph truncates to 97656 nA)
//	Cal = trunc(0.04096 / (97.656 µA × 0.1 Ω)) = trunc(4194.3) = 4194 = 0x1062
//	Power_LSB = 20 × Current_LSB = 1.953125 mW (periph: 1953125 nW)
//
// and a 1 A load on a 12 V bus:
//
//	shunt   = 1 A × 0.1 Ω = 100 mV = 10000 × 10 µV       → 0x2710
//	bus     = 12 V / 4 mV = 3000, << 3, CNVR (bit 1) set → 0x5DC2
//	current = shunt × Cal / 4096 = 10239.3 → 10239      → 0x27FF
//	          = 10239 × 97656 nA = 0.999899784 A
//	power   = current × bus / 5000 = 6143.4 → 6143      → 0x17FF
//	          = 6143 × 1953125 nW = 11.998046875 W
const addr = 0x40

func initOps(cfg byte) []i2ctest.IO {
	return append(setupWrites(cfg), cnvr(true))
}

func setupWrites(cfg byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x05, 0x10, 0x62}}, // calibration (periph)
		{Addr: addr, W: []byte{0x00, 0x1F, 0xFF}}, // configuration (periph: 16 V)
		{Addr: addr, W: []byte{0x00, cfg, 0xFF}},  // configuration again: 0x3F = 32 V
	}
}

// cnvr is a read of the bus voltage register (12 V) polling CNVR (bit 1),
// set once the first conversion after the configuration write is done.
func cnvr(ready bool) i2ctest.IO {
	if ready {
		return i2ctest.IO{Addr: addr, W: []byte{0x02}, R: []byte{0x5D, 0xC2}}
	}
	return i2ctest.IO{Addr: addr, W: []byte{0x02}, R: []byte{0x5D, 0xC0}}
}

// wait is one call of the sensor's sleep: how long, and after how many
// bus transactions.
type wait struct {
	d     time.Duration
	after int
}

// recordWaits makes s record its waits instead of sleeping.
func recordWaits(s *Sensor, pb *i2ctest.Playback) *[]wait {
	var waits []wait
	s.sleep = func(ctx context.Context, d time.Duration) error {
		pb.Lock()
		n := pb.Count
		pb.Unlock()
		waits = append(waits, wait{d, n})
		return ctx.Err()
	}
	return &waits
}

// senseOps is periph's Sense: shunt, bus, current, power; then the
// driver reads calibration again (0x1062, as written).
func senseOps(shunt, bus, current, power [2]byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x01}, R: shunt[:]},
		{Addr: addr, W: []byte{0x02}, R: bus[:]},
		{Addr: addr, W: []byte{0x04}, R: current[:]},
		{Addr: addr, W: []byte{0x03}, R: power[:]},
		{Addr: addr, W: []byte{0x05}, R: []byte{0x10, 0x62}},
	}
}

var calOK = i2ctest.IO{Addr: addr, W: []byte{0x05}, R: []byte{0x10, 0x62}}

var oneAmp = senseOps([2]byte{0x27, 0x10}, [2]byte{0x5D, 0xC2}, [2]byte{0x27, 0xFF}, [2]byte{0x17, 0xFF})

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newSensor(t *testing.T, opts *Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	if opts == nil { // the defaults
		d := DefaultOptions()
		opts = &d
	}
	s, err := New("battery", opts)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	s.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return s, op
}

func check(t *testing.T, vs []sensors.Value, want map[string]sensors.Value) {
	t.Helper()
	if len(vs) != len(want) {
		t.Errorf("got %d values %+v, want %d", len(vs), vs, len(want))
	}
	for _, v := range vs {
		if w, ok := want[v.Field]; !ok || w != v {
			t.Errorf("%s = %v %s, want %v %s", v.Field, v.Value, v.Unit, w.Value, w.Unit)
		}
	}
}

var oneAmpWant = map[string]sensors.Value{
	"voltage":       {Field: "voltage", Value: 12, Unit: "V"},
	"current":       {Field: "current", Value: 0.999899784, Unit: "A"},
	"power":         {Field: "power", Value: 11.998046875, Unit: "W"},
	"shunt_voltage": {Field: "shunt_voltage", Value: 100, Unit: "mV"},
}

func TestCalibrationExample(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x3F), oneAmp, []i2ctest.IO{calOK}, oneAmp), DontPanic: true}
	s, op := newSensor(t, nil, pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for range 2 { // the first read sets the chip up; the second checks calibration
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		check(t, vs, oneAmpWant)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// The datasheet: current and power read 0 until a conversion has ended
// after calibration, and CNVR (bus voltage register bit 1) is set when it
// has. periph's configuration, 12 bits with 128 samples for shunt and bus,
// takes 2 × 128 × 586 µs = 150.016 ms at most (electrical
// characteristics: 12-bit conversion 532 µs typical, 586 µs maximum).
// The driver must wait that long after the last configuration write and
// see CNVR set before it reads current.
func TestWaitsForTheFirstConversionBeforeReadingCurrent(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(setupWrites(0x3F), []i2ctest.IO{cnvr(false), cnvr(true)}, oneAmp), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	waits := recordWaits(s, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, oneAmpWant)
	if len(*waits) != 2 || (*waits)[0] != (wait{150016 * time.Microsecond, 3}) || (*waits)[1].after != 4 {
		t.Errorf("waits %+v; want 150.016ms after the 3 set-up writes, then one after the poll that saw CNVR clear", *waits)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// A first conversion that never ends is an error, not a read of zeros.
func TestCNVRNeverSetIsAnError(t *testing.T) {
	polls := []i2ctest.IO{cnvr(false), cnvr(false), cnvr(false), cnvr(false), cnvr(false), cnvr(false)}
	pb := &i2ctest.Playback{Ops: ops(setupWrites(0x3F), polls), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "CNVR") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNegativeCurrentAnd16VRange(t *testing.T) {
	// Charging: -1 A. Shunt -10000 = 0xD8F0, current -10239 = 0xD801;
	// the power register is unsigned: 6143. Bus 16 V range: BRNG clear.
	o := DefaultOptions()
	o.BusRange = 16
	pb := &i2ctest.Playback{Ops: ops(initOps(0x1F), senseOps([2]byte{0xD8, 0xF0}, [2]byte{0x5D, 0xC2}, [2]byte{0xD8, 0x01}, [2]byte{0x17, 0xFF})), DontPanic: true}
	s, _ := newSensor(t, &o, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, map[string]sensors.Value{
		"voltage":       {Field: "voltage", Value: 12, Unit: "V"},
		"current":       {Field: "current", Value: -0.999899784, Unit: "A"},
		"power":         {Field: "power", Value: 11.998046875, Unit: "W"},
		"shunt_voltage": {Field: "shunt_voltage", Value: -100, Unit: "mV"},
	})
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestOverflowFlagIsAnError(t *testing.T) {
	// Bus register with OVF (bit 0): periph stops after reading it.
	pb := &i2ctest.Playback{Ops: ops(initOps(0x3F), []i2ctest.IO{
		{Addr: addr, W: []byte{0x01}, R: []byte{0x7D, 0x00}},
		{Addr: addr, W: []byte{0x02}, R: []byte{0x5D, 0xC3}},
	}), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "overflow flag (OVF) set") || !strings.HasPrefix(err.Error(), "ina219 on i2c bus 1 addr 0x40: read: ") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestChipResetIsDetectedAndSetUpAgain(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		initOps(0x3F), oneAmp,
		[]i2ctest.IO{{Addr: addr, W: []byte{0x05}, R: []byte{0x00, 0x00}}}, // brown-out: calibration 0
		initOps(0x3F),
		[]i2ctest.IO{calOK}, oneAmp,
	), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "had reset") {
		t.Fatalf("error = %v; want the reset reported", err)
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, oneAmpWant)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestNoAnswerKeepsTheKernelError(t *testing.T) {
	s, _ := newSensor(t, nil, &i2cbustest.Dead{})
	_, err := s.Read(context.Background())
	// periph's New returns its calibration write's error as is.
	want := "ina219 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) {
		t.Error("never answered: not fitted")
	}
}

func TestNoAnswerMidReadRestoresTheCausePeriphDropped(t *testing.T) {
	// Set up, then the chip goes away at the shunt read (op 4 after the
	// three set-up writes and the CNVR poll), where periph returns "failed
	// to read shunt voltage" without the cause. Then the sampler closes;
	// re-open.
	pb1 := &i2ctest.Playback{Ops: initOps(0x3F), DontPanic: true}
	bus1 := &i2cbustest.Fail{BusCloser: pb1, At: 4, Err: i2cbustest.NACK}
	pb2 := &i2ctest.Playback{Ops: ops(initOps(0x3F), oneAmp), DontPanic: true}
	s, op := newSensor(t, nil, bus1, pb2)
	_, err := s.Read(context.Background())
	want := "ina219 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): failed to read shunt voltage: sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("the chip answered at set-up: a failure, not 'not fitted'")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, oneAmpWant)
	if op.Opens() != 2 {
		t.Errorf("opened %d times", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x3F), []i2ctest.IO{{Addr: addr, W: []byte{0x01}, R: []byte{0x27}}}), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "failed to read shunt voltage") || !strings.Contains(err.Error(), "read buffer length") {
		t.Errorf("error = %v", err)
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		mod  func(*Options)
		keys string
		msg  string
	}{
		{func(o *Options) {}, "", ""},
		{func(o *Options) { o.Address = 0x4f; o.ShuntOhms = 0.01; o.MaxCurrent = 10 }, "", ""},
		{func(o *Options) { o.Address = 0x39 }, "address", "0x40-0x4f"},
		{func(o *Options) { o.Bus = "" }, "bus", ""},
		{func(o *Options) { o.ShuntOhms = 0 }, "shunt_ohms", ""},
		{func(o *Options) { o.MaxCurrent = -1 }, "max_current", ""},
		{func(o *Options) { o.MaxCurrent = 5 }, "max_current", "500 mV, beyond the INA219's ±320 mV"},
		{func(o *Options) { o.MaxCurrent = 0.1 }, "max_current", "calibration register would overflow"},
		{func(o *Options) { o.BusRange = 26 }, "bus_range", ""},
	}
	for _, c := range cases {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("battery", &o)
		var keys []string
		var fe config.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				keys = append(keys, e.Key)
			}
		} else if err != nil {
			t.Errorf("%+v: %v is not FieldErrors", o, err)
		}
		if strings.Join(keys, ",") != c.keys {
			t.Errorf("%+v: keys %v, want %q (%v)", o, keys, c.keys, err)
		}
		if c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("%+v: %v lacks %q", o, err, c.msg)
		}
	}
}

func TestCalibrationMatchesTheDatasheetFormula(t *testing.T) {
	for _, c := range []struct {
		ohms, amps float64
		cal        int64
	}{
		{0.1, 3.2, 4194},   // 0.04096 / (97.656e-6 × 0.1)
		{0.1, 1.0, 13422},  // 0.04096 / (30.517e-6 × 0.1) = 13422.03
		{0.01, 10, 13421},  // 0.04096 / (305.175e-6 × 0.01) = 13421.81
		{0.002, 15, 44739}, // 0.04096 / (457.763e-6 × 0.002) = 44739.31
	} {
		if cal, _ := calibration(c.ohms, c.amps); cal != c.cal {
			t.Errorf("calibration(%v Ω, %v A) = %d, want %d", c.ohms, c.amps, cal, c.cal)
		}
	}
}

func TestRegistered(t *testing.T) {
	d, ok := sensors.Lookup(Name)
	if !ok {
		t.Fatal("not registered")
	}
	opts := d.Options()
	if bu, ok := opts.(sensors.BusUser); !ok || bu.BusName() != "1" {
		t.Errorf("options %T do not name bus \"1\"", opts)
	}
	if _, err := d.New("battery", opts); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
	if len(d.I2CAddrs) != 16 {
		t.Errorf("I2CAddrs %#x", d.I2CAddrs)
	}
}

// A chip that stops driving SDA part-way through a read (a brown-out, a
// loose wire) reads 0xFFFF from then on: current −1 LSB (−97.656 µA) and
// power 0xFFFF × 1.953125 mW = 128 W were stored. Reading the calibration
// register again after the data shows it: it holds what was written
// (0x1062) unless the chip let go (0xFFFF) or reset (0x0000).
func TestChipLettingGoMidReadIsAnError(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x3F), []i2ctest.IO{
		{Addr: addr, W: []byte{0x01}, R: []byte{0x27, 0x10}},
		{Addr: addr, W: []byte{0x02}, R: []byte{0x5D, 0xC2}},
		{Addr: addr, W: []byte{0x04}, R: []byte{0xFF, 0xFF}},
		{Addr: addr, W: []byte{0x03}, R: []byte{0xFF, 0xFF}},
		{Addr: addr, W: []byte{0x05}, R: []byte{0xFF, 0xFF}},
	}), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	vs, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "calibration reads 0xffff") {
		t.Errorf("read %+v, %v; want an error", vs, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// Before the data too, calibration must read what was written: 0xFFFF is
// a bus held high, not a reset.
func TestCalibrationMismatchBeforeTheData(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x3F), oneAmp, []i2ctest.IO{{Addr: addr, W: []byte{0x05}, R: []byte{0xFF, 0xFF}}}), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "calibration reads 0xffff, written 0x1062: a stuck bus") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}
