package mcp9808

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

const addr = 0x18

// initOps: ids (manufacturer 0x0054, device 0x04 revision 0x00), then
// periph writes the resolution register (8-bit) and config 0x0000
// (continuous conversion).
func initOps(res byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x06}, R: []byte{0x00, 0x54}},
		{Addr: addr, W: []byte{0x07}, R: []byte{0x04, 0x00}},
		{Addr: addr, W: []byte{0x08, res}},
		{Addr: addr, W: []byte{0x01, 0x00, 0x00}},
	}
}

func temp(hi, lo byte) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{0x05}, R: []byte{hi, lo}}
}

func newSensor(t *testing.T, o *Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	if o == nil { // the defaults
		d := DefaultOptions()
		o = &d
	}
	s, err := New("cabinet", o)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	return s, op
}

func fast() *Options {
	o := DefaultOptions()
	o.Resolution = 0.5
	return &o
}

func TestTemperatureRegisterExamples(t *testing.T) {
	// Datasheet, ambient temperature register: value = bits 11-0 / 16,
	// minus 256 when bit 12 (sign) is set; bits 15-13 are alert flags.
	//
	//	0x0190 → 0x190/16 = 25 °C
	//	0xC1A4 → Tcrit and Tupper flags set, 0x1A4/16 = 26.25 °C
	//	0x1FF0 → sign set: 0xFF0/16 − 256 = −1 °C
	//	0x1E6C → 0xE6C/16 − 256 = 230.75 − 256 = −25.25 °C
	//	0x0001 → 1/16 = 0.0625 °C
	pb := &i2ctest.Playback{Ops: append(initOps(0x00),
		temp(0x01, 0x90), temp(0xC1, 0xA4), temp(0x1F, 0xF0), temp(0x1E, 0x6C), temp(0x00, 0x01)), DontPanic: true}
	s, op := newSensor(t, fast(), pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for _, want := range []float64{25, 26.25, -1, -25.25, 0.0625} {
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0] != (sensors.Value{Field: "temperature", Value: want, Unit: "°C"}) {
			t.Errorf("got %+v, want %v °C", vs, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestFirstReadWaitsOneConversion(t *testing.T) {
	// Default resolution 0.0625 °C: 250 ms per conversion. Until the first
	// conversion after power-up the register reads 0 °C.
	pb := &i2ctest.Playback{Ops: append(initOps(0x03), temp(0x01, 0x90)), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	start := time.Now()
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("first read took %s; it must wait for a conversion (250 ms)", d)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	pb := &i2ctest.Playback{Ops: initOps(0x03), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // well under the 250 ms conversion
	defer cancel()
	_, err := s.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for the first conversion") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestWrongChipAtTheAddress(t *testing.T) {
	// Another part strapped to 0x18 answers with other ids: it must be
	// named, not read as a temperature.
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: addr, W: []byte{0x06}, R: []byte{0x12, 0x34}},
		{Addr: addr, W: []byte{0x07}, R: []byte{0x56, 0x00}},
	}, DontPanic: true}
	s, _ := newSensor(t, fast(), pb)
	_, err := s.Read(context.Background())
	want := "mcp9808 on i2c bus 1 addr 0x18: init: not an MCP9808: manufacturer id 0x1234 (want 0x0054), device id 0x56 (want 0x04); is the address right?"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a chip answered: not 'not fitted'")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerAndReopen(t *testing.T) {
	pb := &i2ctest.Playback{Ops: append(initOps(0x00), temp(0x01, 0x90)), DontPanic: true}
	s, op := newSensor(t, fast(), &i2cbustest.Dead{}, pb)
	_, err := s.Read(context.Background())
	want := "mcp9808 on i2c bus 1 addr 0x18: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want || !errors.Is(err, sensors.ErrNotFitted) {
		t.Errorf("error:\n got %v\nwant %s (not fitted)", err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Read(context.Background())
	if err != nil || vs[0].Value != 25 {
		t.Fatalf("after re-open: %v %+v", err, vs)
	}
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerMidReadRestoresCause(t *testing.T) {
	pb := &i2ctest.Playback{Ops: initOps(0x00), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 4, Err: i2cbustest.NACK}
	s, _ := newSensor(t, fast(), f)
	_, err := s.Read(context.Background())
	want := "mcp9808 on i2c bus 1 addr 0x18: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("answered at set-up: a failure")
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: addr, W: []byte{0x06}, R: []byte{0x00}}}, DontPanic: true}
	s, _ := newSensor(t, fast(), pb)
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
		{func(o *Options) { o.Address = 0x1f; o.Resolution = 0.25 }, ""},
		{func(o *Options) { o.Address = 0x20 }, "address"},
		{func(o *Options) { o.Resolution = 0.1 }, "resolution"},
		{func(o *Options) { o.Bus = "" }, "bus"},
	} {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("cabinet", &o)
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
	if _, err := d.New("cabinet", d.Options()); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
	if len(d.I2CAddrs) != 8 || d.I2CAddrs[0] != 0x18 {
		t.Errorf("I2CAddrs %#x", d.I2CAddrs)
	}
}

func ids(manuf, dev [2]byte) []i2ctest.IO {
	return []i2ctest.IO{{Addr: addr, W: []byte{0x06}, R: manuf[:]}, {Addr: addr, W: []byte{0x07}, R: dev[:]}}
}

// The ambient temperature register's flags compare T_A with T_CRIT (bit
// 15: T_A ≥ T_CRIT), T_UPPER (14: T_A > T_UPPER) and T_LOWER (13: T_A <
// T_LOWER), all 0 °C from power-on and never written by this driver, and
// are set whatever the alert output's configuration. A real 0.0000 °C
// therefore reads 0x8000, a real −0.0625 °C 0x3FFF: 0x0000 is a register
// before its first conversion after a reset (or SDA held low), and 0xFFFF
// a chip that let go of SDA.
func TestImpossibleRegisterValuesAreErrors(t *testing.T) {
	good := ids([2]byte{0x00, 0x54}, [2]byte{0x04, 0x00})
	pb := &i2ctest.Playback{Ops: ops(
		initOps(0x00),
		[]i2ctest.IO{temp(0x80, 0x00)},       // 0 °C, T_CRIT flag
		[]i2ctest.IO{temp(0x3F, 0xFF)},       // −0.0625 °C, T_LOWER flag
		[]i2ctest.IO{temp(0x00, 0x00)}, good, // reset: not converted yet
		initOps(0x00), []i2ctest.IO{temp(0xC1, 0x90)}, // set up again: 25 °C
		[]i2ctest.IO{temp(0x00, 0x00)}, ids([2]byte{}, [2]byte{}), // SDA held low
		[]i2ctest.IO{temp(0xFF, 0xFF)}, // SDA let go
	), DontPanic: true}
	s, _ := newSensor(t, fast(), pb)
	for i, want := range []any{0.0, -0.0625, "first conversion", 25.0, "held low", "0xffff"} {
		vs, err := s.Read(context.Background())
		switch w := want.(type) {
		case float64:
			if err != nil || len(vs) != 1 || vs[0].Value != w {
				t.Errorf("read %d: %+v, %v; want %v °C", i, vs, err, w)
			}
		case string:
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("read %d: %+v, %v; want an error with %q", i, vs, err, w)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
