package ina226

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

const addr = 0x40

func w16(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg, byte(v >> 8), byte(v)}}
}

func r16(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg}, R: []byte{byte(v >> 8), byte(v)}}
}

// initOps: ids, configuration, calibration.
func initOps(config, cal uint16) []i2ctest.IO {
	return []i2ctest.IO{r16(0xFE, 0x5449), r16(0xFF, 0x2260), w16(0x00, config), w16(0x05, cal)}
}

// readOps: shunt, bus, current, power, mask/enable.
func readOps(shunt, bus, current, power, mask uint16) []i2ctest.IO {
	return []i2ctest.IO{r16(0x01, shunt), r16(0x02, bus), r16(0x04, current), r16(0x03, power), r16(0x06, mask)}
}

// calAgain is the calibration register read after the data: the value
// written (0x0A00 for exampleOptions, 0x0800 for the defaults).
func calAgain(cal uint16) []i2ctest.IO { return []i2ctest.IO{r16(0x05, cal)} }

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newSensor(t *testing.T, o *Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	if o == nil { // the defaults
		d := DefaultOptions()
		o = &d
	}
	s, err := New("battery", o)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	s.first.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return s, op
}

// wait is one call of the sensor's sleep: how long, and after how many
// bus transactions.
type wait struct {
	d     time.Duration
	after int
}

// recordWaits makes s record its waits instead of sleeping, on a clock
// that stands still.
func recordWaits(s *Sensor, pb *i2ctest.Playback) *[]wait {
	var waits []wait
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.first.Now = func() time.Time { return t0 }
	s.first.Sleep = func(ctx context.Context, d time.Duration) error {
		pb.Lock()
		n := pb.Count
		pb.Unlock()
		waits = append(waits, wait{d, n})
		return ctx.Err()
	}
	return &waits
}

func check(t *testing.T, vs []sensors.Value, voltage, current, power, shunt float64) {
	t.Helper()
	want := []sensors.Value{
		{Field: "voltage", Value: voltage, Unit: "V"},
		{Field: "current", Value: current, Unit: "A"},
		{Field: "power", Value: power, Unit: "W"},
		{Field: "shunt_voltage", Value: shunt, Unit: "mV"},
	}
	if len(vs) != len(want) {
		t.Fatalf("values %+v", vs)
	}
	for i := range want {
		if vs[i] != want[i] {
			t.Errorf("%s = %v %s, want %v %s", vs[i].Field, vs[i].Value, vs[i].Unit, want[i].Value, want[i].Unit)
		}
	}
}

// The datasheet's equations with a 2 mΩ shunt and a 1 mA Current_LSB
// (max_current 32.768 A = 1 mA × 2^15), 10 A at 12 V:
//
//	CAL     = 0.00512 / (0.001 A × 0.002 Ω) = 2560          → 0x0A00
//	shunt   = 10 A × 2 mΩ = 20 mV / 2.5 µV = 8000            → 0x1F40
//	current = shunt × CAL / 2048 = 10000 (× 1 mA = 10 A)     → 0x2710
//	bus     = 12 V / 1.25 mV = 9600                          → 0x2580
//	power   = current × bus / 20000 = 4800 (× 25 mW = 120 W) → 0x12C0
//
// averages 1 and conversion_time 140 µs: configuration
// 0x4000 | 0<<9 | 0<<6 | 0<<3 | 7 = 0x4007.
func exampleOptions() *Options {
	o := DefaultOptions()
	o.ShuntOhms, o.MaxCurrent, o.Averages, o.ConversionTime = 0.002, 32.768, 1, 140
	return &o
}

func TestDatasheetExample(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		initOps(0x4007, 0x0A00),
		readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00),
		[]i2ctest.IO{r16(0x05, 0x0A00)}, // later reads check calibration first
		readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00),
	), DontPanic: true}
	s, op := newSensor(t, exampleOptions(), pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for range 2 {
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		check(t, vs, 12, 10, 120, 20)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// The first read after set-up waits one averaging period at the
// datasheet's maximum conversion time (electrical characteristics, t_CT
// at CT = 100: 1.1 ms typical, 1.21 ms maximum): 16 averages × (bus +
// shunt) × 1.21 ms = 38.72 ms, after the four set-up transactions and
// before the first register read.
//
// Defaults: 0.1 Ω, 0.8192 A → Current_LSB 25 µA, CAL = 0.00512 / (25 µA ×
// 0.1 Ω) = 2048 = 0x0800; configuration 0x4000 | 2<<9 (16 averages) |
// 4<<6 | 4<<3 (1.1 ms) | 7 = 0x4527. Charging at -0.5 A on a 24 V bank:
// shunt -50 mV = -20000 = 0xB1E0, current -20000 × 25 µA = 0xB1E0, bus
// 24 V = 19200 = 0x4B00, power (unsigned) 20000 × 19200 / 20000 = 19200 ×
// 625 µW = 12 W.
func TestDefaultsNegativeCurrentWaitsForFirstConversion(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x4527, 0x0800), readOps(0xB1E0, 0x4B00, 0xB1E0, 0x4B00, 0x0008), calAgain(0x0800)), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	waits := recordWaits(s, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] != (wait{38720 * time.Microsecond, 4}) {
		t.Errorf("waits %+v; want one of 38.72ms after the 4 set-up transactions", *waits)
	}
	check(t, vs, 24, -0.5, 12, -50)
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestResetIsDetectedAndSetUpAgain(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		initOps(0x4007, 0x0A00),
		readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00),
		[]i2ctest.IO{r16(0x05, 0x0000)}, // brown-out
		initOps(0x4007, 0x0A00),
		[]i2ctest.IO{r16(0x05, 0x0A00)},
		readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00),
	), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "had reset") {
		t.Fatalf("error = %v, want the reset reported", err)
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, 12, 10, 120, 20)
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestOverflowFlag(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x4007, 0x0A00), readOps(0x7FFF, 0x2580, 0x7FFF, 0xFFFF, 0x000C), calAgain(0x0A00)), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "ina226 on i2c bus 1 addr 0x40: read: overflow flag (OVF) set") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNotAnINA226(t *testing.T) {
	// An INA219 has no register 0xFE; whatever it returns is not TI's id.
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{r16(0xFE, 0x0000), r16(0xFF, 0x0000)}, DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "init: not an INA226: manufacturer id 0x0000 (want 0x5449)") || !strings.Contains(err.Error(), `use driver = "ina219"`) {
		t.Errorf("error = %v", err)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a chip answered: not 'not fitted'")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerThenReopen(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x4007, 0x0A00), readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00)), DontPanic: true}
	s, op := newSensor(t, exampleOptions(), &i2cbustest.Dead{}, pb)
	_, err := s.Read(context.Background())
	want := "ina226 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want || !errors.Is(err, sensors.ErrNotFitted) {
		t.Errorf("error:\n got %v\nwant %s (not fitted)", err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, 12, 10, 120, 20)
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerMidRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x4007, 0x0A00), readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008)[:2]), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 6, Err: i2cbustest.NACK}
	s, _ := newSensor(t, exampleOptions(), f)
	_, err := s.Read(context.Background())
	if err == nil || errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("error = %v; want a failure, the chip answered at set-up", err)
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: addr, W: []byte{0xFE}, R: []byte{0x54}}}, DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "read buffer length") {
		t.Errorf("error = %v", err)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Options)
		keys string
	}{
		{func(o *Options) {}, ""},
		{func(o *Options) { o.ShuntOhms, o.MaxCurrent = 0.00075, 100 }, ""},
		{func(o *Options) { o.Address = 0x50 }, "address"},
		{func(o *Options) { o.ShuntOhms = -1 }, "shunt_ohms"},
		{func(o *Options) { o.MaxCurrent = 1 }, "max_current"},    // 100 mV > 81.92 mV
		{func(o *Options) { o.MaxCurrent = 0.01 }, "max_current"}, // CAL 167772 overflows 15 bits
		{func(o *Options) { o.Averages = 2 }, "averages"},
		{func(o *Options) { o.ConversionTime = 1000 }, "conversion_time"},
	} {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("battery", &o)
		var keys []string
		var fe config.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				keys = append(keys, e.Key)
			}
		}
		if strings.Join(keys, ",") != c.keys {
			t.Errorf("%+v: keys %v, want %q (%v)", o, keys, c.keys, err)
		}
	}
}

func TestRegistered(t *testing.T) {
	d, ok := sensors.Lookup(Name)
	if !ok {
		t.Fatal("not registered")
	}
	if bu, ok := d.Options().(sensors.BusUser); !ok || bu.BusName() != "1" {
		t.Error("options do not name bus \"1\"")
	}
	if _, err := d.New("battery", d.Options()); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

// BenchmarkRead is one read of a configured chip over a replayed bus: the
// driver's own cost (a Pi Zero spends far longer on the six I2C
// transactions, about 0.3 ms each at 100 kHz).
func BenchmarkRead(b *testing.B) {
	first := ops(readOps(0x1F40, 0x2580, 0x2710, 0x12C0, 0x0008), calAgain(0x0A00))
	later := ops([]i2ctest.IO{r16(0x05, 0x0A00)}, first) // calibration checked first
	all := ops(initOps(0x4007, 0x0A00), first)
	for range b.N {
		all = append(all, later...)
	}
	pb := &i2ctest.Playback{Ops: all, DontPanic: true}
	s, err := New("battery", exampleOptions())
	if err != nil {
		b.Fatal(err)
	}
	s.dev.Opener = (&i2cbustest.Opener{Buses: []i2c.BusCloser{pb}}).Open
	ctx := context.Background()
	if _, err := s.Read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// SDA held low from part-way through a read reads zeros: bus 0 V, current
// and power 0, and no OVF in mask/enable. The calibration register, read
// again after the data, holds what was written unless the bus or the chip
// failed: 0x0000 here.
func TestBusStuckMidReadIsAnError(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x4007, 0x0A00), readOps(0x1F40, 0, 0, 0, 0), calAgain(0)), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	vs, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "calibration reads 0x0000 after the data") {
		t.Errorf("read %+v, %v; want an error", vs, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}
