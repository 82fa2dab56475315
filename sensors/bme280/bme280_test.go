package bme280

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

// The calibration words and raw readings of the compensation example in the
// BMP280 datasheet (its "compensation computation example" table; the
// BME280 uses the same T and P formulas):
//
//	dig_T1 27504  dig_T2 26435  dig_T3 -1000
//	dig_P1 36477  dig_P2 -10685 dig_P3 3024  dig_P4 2855 dig_P5 140
//	dig_P6 -7     dig_P7 15500  dig_P8 -14600 dig_P9 6000
//	adc_T 519888 (0x7EED0) → t_fine 128422, T 25.08 °C
//	adc_P 415148 (0x655AC) → P 100653.27 Pa (double formula)
//
// Stored little-endian from 0x88: 27504 = 0x6B70 → 70 6B, -1000 = 0xFC18 →
// 18 FC, -10685 = 0xD643 → 43 D6, -14600 = 0xC6F8 → F8 C6, and so on.
var calTP = []byte{
	0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, // T1 T2 T3
	0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, // P1 P2 P3
	0x27, 0x0B, 0x8C, 0x00, 0xF9, 0xFF, // P4 P5 P6
	0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, // P7 P8 P9
	0x00, // 0xA0 reserved
	0x4B, // 0xA1 dig_H1 = 75
}

// The humidity words have no datasheet example; these are a real BME280's
// (the ones periph's own tests use): from 0xE1, H2 = 0x015C = 348, H3 = 0,
// H4 = 0x15<<4 | 0x0F&0xF = 351, H5 = 0x0F>>4 | 0x00<<4 = 0, H6 = 30.
var calH = []byte{0x5C, 0x01, 0x00, 0x15, 0x0F, 0x00, 0x1E}

// Raw data burst from 0xF7: press 0x65 0x5A 0xC0 (415148), temp 0x7E 0xED
// 0x00 (519888), hum 0x7A 0x10 (31248; not 0x8000, which is the value of a
// skipped measurement). The expected humidity is Bosch's double-precision
// formula (boschHumidity); the integer formula's 1/1024 %RH steps may
// differ by one step.
var burst = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x7A, 0x10}

const adcH = 31248

const addr = 0x76

// initOps is bmxx80's set-up of a BME280 at 1x oversampling everywhere:
// chip id, calibration, then ctrl_meas (sleep), ctrl_hum, config, and
// ctrl_meas again (osrs_t 1<<5 | osrs_p 1<<2 | sleep 0 = 0x24; config
// standby 1 s 5<<5 = 0xA0, filter off).
func initOps(chipID byte) []i2ctest.IO {
	ops := []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{chipID}},
		{Addr: addr, W: []byte{0x88}, R: calTP},
	}
	if chipID == 0x60 {
		ops = append(ops,
			i2ctest.IO{Addr: addr, W: []byte{0xE1}, R: calH},
			i2ctest.IO{Addr: addr, W: []byte{0xF4, 0x24, 0xF2, 0x01, 0xF5, 0xA0, 0xF4, 0x24}})
	} else {
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0xF4, 0x24, 0xF5, 0xA0, 0xF4, 0x24}})
	}
	return ops
}

// readOps is one forced measurement: ctrl_meas mode 1 (0x25), status idle,
// then the burst (8 bytes on a BME280, 6 on a BMP280).
func readOps(n int) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xF4, 0x25}},
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: addr, W: []byte{0xF7}, R: burst[:n]},
	}
}

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newSensor(t *testing.T, model string, opts any, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	// Through the registry: opts is what the loader passes (nil for the
	// defaults, *Options or *BMP280Options).
	sen, err := mustLookup(t, model).New("env", opts)
	if err != nil {
		t.Fatal(err)
	}
	s := sen.(*Sensor)
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	s.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return s, op
}

func values(vs []sensors.Value) map[string]sensors.Value {
	m := map[string]sensors.Value{}
	for _, v := range vs {
		m[v.Field] = v
	}
	return m
}

func TestBME280DatasheetExample(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x60), readOps(8), readOps(8)), DontPanic: true}
	s, op := newSensor(t, BME280, nil, pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for i := range 2 { // the second read must not initialise again
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		m := values(vs)
		if len(vs) != 3 {
			t.Fatalf("values %+v", vs)
		}
		if v := m["temperature"]; v.Value != 25.08 || v.Unit != "°C" {
			t.Errorf("temperature %+v, want 25.08 °C (datasheet)", v)
		}
		// Bosch's 64-bit integer formula gives 25767233/256 Pa =
		// 100653.2539 Pa, 0.013 Pa under the double formula's 100653.27.
		if v := m["pressure"]; v.Value != 1006.5325 || v.Unit != "hPa" {
			t.Errorf("pressure %+v, want 1006.5325 hPa", v)
		}
		if v := m["pressure"]; math.Abs(v.Value-1006.5327) > 0.0003 {
			t.Errorf("pressure %v hPa differs from the datasheet's 100653.27 Pa", v.Value)
		}
		want := boschHumidity(519888, adcH, 27504, 26435, -1000, 75, 348, 0, 351, 0, 30)
		if v := m["humidity"]; math.Abs(v.Value-want) > humidityTolerance || v.Unit != "%RH" {
			t.Errorf("humidity %+v, want %.4f %%RH within %v", v, want, humidityTolerance)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v (ops left unplayed?)", err)
	}
}

func TestBMP280ReadsNoHumidity(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x58), readOps(6)), DontPanic: true}
	s, _ := newSensor(t, BMP280, &BMP280Options{Options: DefaultBMP280Options().Options, TemperatureOversampling: 1, PressureOversampling: 1}, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := values(vs)
	if len(vs) != 2 || m["temperature"].Value != 25.08 || m["pressure"].Value != 1006.5325 {
		t.Errorf("values %+v", vs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestBME280DriverOnABMP280SaysUseBMP280(t *testing.T) {
	pb := &i2ctest.Playback{Ops: initOps(0x58)[:1], DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), `use driver = "bmp280"`) || !strings.HasPrefix(err.Error(), "bme280 on i2c bus 1 addr 0x76: init: ") {
		t.Errorf("error = %v", err)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a wrong chip is there: not 'not fitted'")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestPressureAndHumidityOff(t *testing.T) {
	o := DefaultOptions()
	o.PressureOversampling, o.HumidityOversampling = 0, 0
	// ctrl_meas osrs_t 1<<5 | osrs_p 0 = 0x20; ctrl_hum 0.
	init := []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: addr, W: []byte{0x88}, R: calTP},
		{Addr: addr, W: []byte{0xE1}, R: calH},
		{Addr: addr, W: []byte{0xF4, 0x20, 0xF2, 0x00, 0xF5, 0xA0, 0xF4, 0x20}},
		{Addr: addr, W: []byte{0xF4, 0x21}},
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: addr, W: []byte{0xF7}, R: burst},
	}
	pb := &i2ctest.Playback{Ops: init, DontPanic: true}
	s, _ := newSensor(t, BME280, &o, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Field != "temperature" {
		t.Errorf("values %+v, want temperature only", vs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerAtInitIsNotFitted(t *testing.T) {
	s, _ := newSensor(t, BME280, nil, &i2cbustest.Dead{})
	_, err := s.Read(context.Background())
	want := "bme280 on i2c bus 1 addr 0x76: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) || !errors.Is(err, i2cbustest.NACK) {
		t.Errorf("want ErrNotFitted and the bus error in the chain (bmxx80 formats it with %%v): %v", err)
	}
}

func TestNoAnswerAfterSuccessIsAFailureAndReopenReinitialises(t *testing.T) {
	// Bus 1: init and one good read, then the chip stops answering at the
	// forced-mode write (transaction 7).
	pb1 := &i2ctest.Playback{Ops: ops(initOps(0x60), readOps(8)), DontPanic: true}
	bus1 := &i2cbustest.Fail{BusCloser: pb1, At: 7, Err: i2cbustest.NACK}
	// Bus 2, after the sampler closed the sensor: set up again, read.
	pb2 := &i2ctest.Playback{Ops: ops(initOps(0x60), readOps(8)), DontPanic: true}
	s, op := newSensor(t, BME280, nil, bus1, pb2)

	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(context.Background())
	if err == nil || errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("error = %v; want a no-answer failure, not 'not fitted'", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	vs, err := s.Read(context.Background())
	if err != nil || len(vs) != 3 {
		t.Fatalf("read after re-open: %v %+v", err, vs)
	}
	if op.Opens() != 2 {
		t.Errorf("bus opened %d times, want 2", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v (the re-open did not initialise the chip again?)", err)
	}
}

func TestShortCalibrationReadFails(t *testing.T) {
	// The chip returns fewer calibration bytes than asked: the playback
	// refuses the transaction as the kernel would fail a short transfer.
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: addr, W: []byte{0x88}, R: calTP[:20]},
	}, DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "init: ") || !strings.Contains(err.Error(), "read buffer length") {
		t.Errorf("error = %v", err)
	}
}

func TestUnknownChipID(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: addr, W: []byte{0xD0}, R: []byte{0x61}}}, DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unexpected chip id 0x61") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestCancelledContextDoesNoIO(t *testing.T) {
	s, op := newSensor(t, BME280, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v", err)
	}
	if op.Opens() != 0 {
		t.Error("opened the bus for a cancelled read")
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		model string
		mod   func(*Options)
		keys  string
	}{
		{BME280, func(o *Options) {}, ""},
		{BME280, func(o *Options) { o.Address = 0x77; o.TemperatureOversampling = 16 }, ""},
		{BME280, func(o *Options) { o.Address = 0x40 }, "address"},
		{BME280, func(o *Options) { o.Bus = "" }, "bus"},
		{BME280, func(o *Options) { o.TemperatureOversampling = 0 }, "temperature_oversampling"},
		{BME280, func(o *Options) { o.PressureOversampling = 3 }, "pressure_oversampling"},
		{BME280, func(o *Options) { o.HumidityOversampling = 32 }, "humidity_oversampling"},
		{BMP280, func(o *Options) { o.HumidityOversampling = 32 }, ""}, // not a bmp280 key
	}
	for _, c := range cases {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("env", c.model, &o)
		var keys []string
		var fe config.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				keys = append(keys, e.Key)
			}
		} else if err != nil {
			t.Errorf("%s %+v: error %v is not FieldErrors", c.model, o, err)
		}
		if strings.Join(keys, ",") != c.keys {
			t.Errorf("%s %+v: keys %v, want %q (%v)", c.model, o, keys, c.keys, err)
		}
	}
	if _, err := mustLookup(t, BME280).New("env", 42); err == nil {
		t.Error("options of the wrong type accepted")
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{BME280, BMP280} {
		d, ok := sensors.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		opts := d.Options()
		if bu, ok := opts.(sensors.BusUser); !ok || bu.BusName() != "1" {
			t.Errorf("%s options %T: BusUser with bus \"1\" expected", name, opts)
		}
		s, err := d.New("env", opts)
		if err != nil {
			t.Errorf("%s defaults rejected: %v", name, err)
		} else if err := s.Close(); err != nil {
			t.Error(err)
		}
		if len(d.I2CAddrs) != 2 || d.I2CAddrs[0] != 0x76 {
			t.Errorf("%s I2CAddrs %#x", name, d.I2CAddrs)
		}
	}
	if _, ok := mustLookup(t, BMP280).Options().(*BMP280Options); !ok {
		t.Error("bmp280 options must not carry humidity_oversampling")
	}
}

func mustLookup(t *testing.T, name string) sensors.Driver {
	t.Helper()
	d, ok := sensors.Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	return d
}

// humidityTolerance is how far the datasheet's integer formula may be
// from its double one: its first factor is rounded to an integer (>> 15)
// before it is multiplied by about 45000 and scaled by 2^-22 (>> 12, then
// 1/1024 %RH), so half a step of it is about 0.0055 %RH.
const humidityTolerance = 0.01

// boschHumidity is the double-precision humidity compensation of Bosch's
// reference driver (BME280_SensorAPI bme280.c, compensate_humidity with
// BME280_DOUBLE_ENABLE, and the datasheet's section 8.1), with t_fine from
// its double temperature compensation: the expected value, computed
// independently of the driver.
func boschHumidity(adcT, adcH, t1, t2, t3 float64, h1, h2, h3, h4, h5, h6 float64) float64 {
	v1 := (adcT/16384 - t1/1024) * t2
	v2 := (adcT/131072 - t1/8192) * (adcT/131072 - t1/8192) * t3
	tFine := v1 + v2
	x := tFine - 76800
	v3 := adcH - (h4*64 + h5/16384*x)
	v4 := h2 / 65536
	v5 := 1 + h3/67108864*x
	v6 := 1 + h6/67108864*x*v5
	h := v3 * v4 * (v5 * v6)
	h *= 1 - h1*h/524288
	return min(max(h, 0), 100)
}

// dig_H4 and dig_H5 are 12-bit signed: Bosch's reference driver builds
// them as (int16)(int8)msb × 16 | nibble (parse_humidity_calib_data), the
// kernel with sign_extend32(…, 11) (bmp280-core.c). From 0xE4 0x15, 0xE5
// 0x6F, 0xE6 0xFF: H4 = 0x15 × 16 | 0xF = 351, H5 = (int8)0xFF × 16 | 0x6
// = -10. Read unsigned, H5 is 0xFF6 = 4086 and the humidity 0 %RH.
func TestNegativeH5IsSignExtended(t *testing.T) {
	calNegH5 := []byte{0x5C, 0x01, 0x00, 0x15, 0x6F, 0xFF, 0x1E}
	init := append(initOps(0x60)[:2:2], i2ctest.IO{Addr: addr, W: []byte{0xE1}, R: calNegH5}, initOps(0x60)[3])
	pb := &i2ctest.Playback{Ops: ops(init, readOps(8)), DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// adc_T 519888 and dig_T1-3 of the datasheet example; H1 75, H2 348,
	// H3 0, H6 30.
	want := boschHumidity(519888, adcH, 27504, 26435, -1000, 75, 348, 0, 351, -10, 30)
	if h := values(vs)["humidity"]; math.Abs(h.Value-want) > humidityTolerance {
		t.Errorf("humidity %v %%RH, want %.4f (Bosch's double formula, within %v)", h.Value, want, humidityTolerance)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// The reference formula itself, against the figure worked out for the
// earlier fixture (adc_H 32768, t_fine 128422.287, H5 0): 55.5292 %RH.
func TestBoschHumidityReference(t *testing.T) {
	if h := boschHumidity(519888, 32768, 27504, 26435, -1000, 75, 348, 0, 351, 0, 30); math.Abs(h-55.5292) > 0.0001 {
		t.Errorf("boschHumidity = %.4f, want 55.5292", h)
	}
}

// Forced mode at 1x everywhere: the datasheet's t_measure,max = 1.25 +
// 2.3 × 1 + (2.3 × 1 + 0.575) + (2.3 × 1 + 0.575) = 9.3 ms, waited after
// the ctrl_meas write (transaction 5, after the 4 of set-up) and before
// the status poll.
func TestWaitsTheMaximumMeasurementTime(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps(0x60), readOps(8)), DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	type wait struct {
		d     time.Duration
		after int
	}
	var waits []wait
	s.sleep = func(ctx context.Context, d time.Duration) error {
		pb.Lock()
		waits = append(waits, wait{d, pb.Count})
		pb.Unlock()
		return nil
	}
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != (wait{9300 * time.Microsecond, 5}) {
		t.Errorf("waits %+v, want 9.3ms after transaction 5", waits)
	}
}

// H4 negative: 0xE4 0xF0, 0xE5 low nibble 0x8 → (int8)0xF0 × 16 | 8 =
// -256 + 8 = -248 (Bosch's parse_humidity_calib_data).
func TestCalibrationSigns(t *testing.T) {
	c := parseCalibration(calTP, []byte{0x5C, 0x01, 0x00, 0xF0, 0x68, 0x02, 0xE2})
	if c.h2 != 348 || c.h4 != -248 || c.h5 != 0x02<<4|6 || c.h6 != -30 || c.h1 != 75 || c.t3 != -1000 || c.p1 != 36477 {
		t.Errorf("calibration %+v", c)
	}
}

// readBurst is one forced measurement returning b.
func readBurst(b []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xF4, 0x25}},
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: addr, W: []byte{0xF7}, R: b},
	}
}

// A measurement the chip skipped reads 0x80000 (temperature, pressure) or
// 0x8000 (humidity): the kernel's bmp280-core.c refuses them (…_SKIPPED).
// Humidity is skipped after a reset clears ctrl_hum: the driver sets the
// chip up again on the next read.
func TestSkippedMeasurementsAreErrors(t *testing.T) {
	humSkipped := append(append([]byte{}, burst[:6]...), 0x80, 0x00)
	tempSkipped := append([]byte{0x65, 0x5A, 0xC0, 0x80, 0x00, 0x00}, burst[6:]...)
	pb := &i2ctest.Playback{Ops: ops(initOps(0x60), readBurst(humSkipped), initOps(0x60), readBurst(tempSkipped), readOps(8)), DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	for _, want := range []string{"humidity skipped", "temperature skipped"} {
		vs, err := s.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("read %+v, %v; want an error with %q", vs, err, want)
		}
	}
	if vs, err := s.Read(context.Background()); err != nil || len(vs) != 3 {
		t.Errorf("read after the errors: %+v, %v", vs, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A burst of all 0x00 (SDA held low: the Pi's controller reads zeros) or
// all 0xFF (the chip let go of SDA) is no measurement. Raw temperature
// 0xFFFFF or 0 is far outside the chip's -40…85 °C for any trimming.
func TestStuckBusBurstIsAnError(t *testing.T) {
	zeros, ones := make([]byte, 8), []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	pb := &i2ctest.Playback{Ops: ops(initOps(0x60), readBurst(zeros), readBurst(ones)), DontPanic: true}
	s, _ := newSensor(t, BME280, nil, pb)
	for range 2 {
		vs, err := s.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "stuck") {
			t.Errorf("read %+v, %v; want a stuck-bus error", vs, err)
		}
	}
}

// dig_T1 and dig_P1 are unsigned and never 0 or 0xFFFF on a chip; the
// pressure formula divides by dig_P1, and Bosch's code returns 0 Pa then.
func TestCalibrationFromAStuckBusIsRefused(t *testing.T) {
	for _, fill := range []byte{0x00, 0xFF} {
		cal := make([]byte, 26)
		for i := range cal {
			cal[i] = fill
		}
		pb := &i2ctest.Playback{Ops: []i2ctest.IO{
			{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}},
			{Addr: addr, W: []byte{0x88}, R: cal},
			{Addr: addr, W: []byte{0xE1}, R: calH},
		}, DontPanic: true}
		s, _ := newSensor(t, BME280, nil, pb)
		_, err := s.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "dig_T1") {
			t.Errorf("calibration all 0x%02x: %v", fill, err)
		}
	}
}
