package ina3221

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

func initOps(config uint16) []i2ctest.IO {
	return []i2ctest.IO{r16(0xFE, 0x5449), r16(0xFF, 0x3220), w16(0x00, config)}
}

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Channels 1 and 3, shunts 0.1 Ω and 0.01 Ω, 1 average of 140 µs:
// configuration CH1en 0x4000 | CH3en 0x1000 | AVG 0 | CT 0 | MODE 7 = 0x5007.
//
// Registers hold the value in bits 15-3 (so the count × 8):
//
//	ch1 bus   12 V / 8 mV = 1500 → 0x2EE0
//	ch1 shunt 0.5 A × 0.1 Ω = 50 mV / 40 µV = 1250 → 0x2710
//	          current 50 mV / 0.1 Ω = 0.5 A, power 12 V × 0.5 A = 6 W
//	ch3 bus   5 V / 8 mV = 625 → 0x1388
//	ch3 shunt -2 A × 0.01 Ω = -20 mV / 40 µV = -500 → -4000 = 0xF060
//	          current -2 A, power -10 W
func exampleOptions() *Options {
	o := DefaultOptions()
	o.Channels = []int{1, 3}
	o.ShuntOhms = []float64{0.1, 0.1, 0.01}
	o.Averages, o.ConversionTime = 1, 140
	return &o
}

// exampleRead ends with the configuration read again after the data.
var exampleRead = []i2ctest.IO{r16(0x01, 0x2710), r16(0x02, 0x2EE0), r16(0x05, 0xF060), r16(0x06, 0x1388), r16(0x00, 0x5007)}

var exampleWant = []sensors.Value{
	{Field: "ch1_voltage", Value: 12, Unit: "V"},
	{Field: "ch1_current", Value: 0.5, Unit: "A"},
	{Field: "ch1_power", Value: 6, Unit: "W"},
	{Field: "ch1_shunt_voltage", Value: 50, Unit: "mV"},
	{Field: "ch3_voltage", Value: 5, Unit: "V"},
	{Field: "ch3_current", Value: -2, Unit: "A"},
	{Field: "ch3_power", Value: -10, Unit: "W"},
	{Field: "ch3_shunt_voltage", Value: -20, Unit: "mV"},
}

func newSensor(t *testing.T, o *Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	if o == nil { // the defaults
		d := DefaultOptions()
		o = &d
	}
	s, err := New("dc", o)
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

func check(t *testing.T, got, want []sensors.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("values %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s = %v %s, want %v %s", got[i].Field, got[i].Value, got[i].Unit, want[i].Value, want[i].Unit)
		}
	}
}

func TestTwoChannels(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), exampleRead, []i2ctest.IO{r16(0x00, 0x5007)}, exampleRead), DontPanic: true}
	s, op := newSensor(t, exampleOptions(), pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for range 2 { // the second read checks the configuration first
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		check(t, vs, exampleWant)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestDefaultsConfiguration(t *testing.T) {
	// All channels 0x7000 | 16 averages 2<<9 | 1.1 ms 4<<6 | 4<<3 | 7 = 0x7527.
	s, _ := newSensor(t, nil)
	if s.config != 0x7527 {
		t.Errorf("configuration 0x%04x, want 0x7527", s.config)
	}
}

// The first read after set-up waits one averaging period of every enabled
// channel's bus and shunt conversions at the datasheet's maximum
// conversion time (electrical characteristics, t_CONVERT: CT = 000 140 µs
// typical, 154 µs maximum; CT = 100 1.1 ms, 1.21 ms): after the three
// set-up transactions, before the first register read.
func TestFirstReadWaitsTheMaximumConversionTime(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), exampleRead), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	waits := recordWaits(s, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, exampleWant)
	// 1 average × 2 channels × (bus + shunt) × 154 µs.
	if len(*waits) != 1 || (*waits)[0] != (wait{616 * time.Microsecond, 3}) {
		t.Errorf("waits %+v; want one of 616µs after the 3 set-up transactions", *waits)
	}
	// Defaults: 16 averages × 3 channels × 2 × 1.21 ms = 116.16 ms.
	d, _ := newSensor(t, nil)
	if d.first.Cycle != 116160*time.Microsecond {
		t.Errorf("default cycle %s, want 116.16ms", d.first.Cycle)
	}
}

func TestResetIsDetectedAndSetUpAgain(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		initOps(0x5007), exampleRead,
		[]i2ctest.IO{r16(0x00, 0x7127)}, // power-on configuration: it reset
		initOps(0x5007),
		[]i2ctest.IO{r16(0x00, 0x5007)}, exampleRead,
	), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "had reset (configuration read 0x7127, written 0x5007") {
		t.Fatalf("error = %v", err)
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, exampleWant)
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestAnINA226IsNamed(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{r16(0xFE, 0x5449), r16(0xFF, 0x2260)}, DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), `not an INA3221`) || !strings.Contains(err.Error(), `use driver = "ina226"`) {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerThenReopen(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), exampleRead), DontPanic: true}
	s, op := newSensor(t, exampleOptions(), &i2cbustest.Dead{}, pb)
	_, err := s.Read(context.Background())
	want := "ina3221 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
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
	check(t, vs, exampleWant)
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerMidReadNamesTheChannel(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), exampleRead[:2]), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 5, Err: errors.New("sysfs-i2c: connection timed out")}
	s, _ := newSensor(t, exampleOptions(), f)
	_, err := s.Read(context.Background())
	want := "ina3221 on i2c bus 1 addr 0x40: read channel 3 shunt: sysfs-i2c: connection timed out"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), []i2ctest.IO{{Addr: addr, W: []byte{0x01}, R: []byte{0x27}}}), DontPanic: true}
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
		{func(o *Options) { o.Channels = []int{2}; o.ShuntOhms = []float64{0.05} }, ""},
		{func(o *Options) { o.Address = 0x44 }, "address"},
		{func(o *Options) { o.Channels = []int{0, 4} }, "channels,channels"},
		{func(o *Options) { o.Channels = []int{1, 1} }, "channels"},
		{func(o *Options) { o.Channels = nil }, "channels"},
		{func(o *Options) { o.ShuntOhms = []float64{0.1, 0.1} }, "shunt_ohms"},
		{func(o *Options) { o.ShuntOhms = []float64{0.1, 0, 0.1} }, "shunt_ohms"},
		{func(o *Options) { o.Averages = 3 }, "averages"},
		{func(o *Options) { o.ConversionTime = 0 }, "conversion_time"},
	} {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("dc", &o)
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

func TestOptionsDecodeFromTOML(t *testing.T) {
	doc, root, err := config.Parse("t.toml", []byte("channels = [1, 3]\nshunt_ohms = [0.1, 0.1, 0.01]\naverages = 1\nconversion_time = 140\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	root.DecodeStrict(&o)
	if err := doc.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := New("dc", &o)
	if err != nil {
		t.Fatal(err)
	}
	if s.config != 0x5007 || len(s.chans) != 2 || s.chans[1].shunt != 0.01 {
		t.Errorf("decoded to config 0x%04x, channels %+v", s.config, s.chans)
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
	if _, err := d.New("dc", d.Options()); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

// SDA held low from part-way through a read reads zeros: channel 3 at
// 0 V and 0 A. The configuration register, read again after the data,
// holds what was written unless the bus or the chip failed.
func TestBusStuckMidReadIsAnError(t *testing.T) {
	read := []i2ctest.IO{r16(0x01, 0x2710), r16(0x02, 0x2EE0), r16(0x05, 0), r16(0x06, 0), r16(0x00, 0)}
	pb := &i2ctest.Playback{Ops: ops(initOps(0x5007), read), DontPanic: true}
	s, _ := newSensor(t, exampleOptions(), pb)
	vs, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "configuration reads 0x0000 after the data") {
		t.Errorf("read %+v, %v; want an error", vs, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}
