package i2creg

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

func newSensor(t *testing.T, o Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	s, err := New("reg", &o)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	return s, op
}

// lm75b reads an NXP LM75B's temperature register: pointer 0x00, two bytes
// MSB first, 11 bits in bits 15-5 of 0.125 °C, two's complement.
func lm75b() Options {
	o := DefaultOptions()
	o.Address, o.Register, o.Length = 0x48, 0x00, 2
	o.Signed, o.Mask, o.Shift, o.Scale = true, 0xFFE0, 5, 0.125
	o.Unit, o.Field = "°C", "temperature"
	return o
}

func TestLM75BTemperatures(t *testing.T) {
	// LM75B datasheet, table "Temp register value": 11-bit values
	//
	//	0x3F8 → +127 °C     register 0x3F8<<5 = 0x7F00
	//	0x032 → +6.25 °C    register 0x032<<5 = 0x0640
	//	0x7CE → −6.25 °C    register 0x7CE<<5 = 0xF9C0 (two's complement −50)
	//	0x400 → −128 °C     register 0x8000 (the 11-bit minimum, beyond the table)
	//
	// The low five bits are not part of the value: 0x064F reads as 0x0640.
	cases := []struct {
		hi, lo byte
		want   float64
	}{{0x7F, 0x00, 127}, {0x06, 0x40, 6.25}, {0xF9, 0xC0, -6.25}, {0x80, 0x00, -128}, {0x06, 0x4F, 6.25}}
	var ops []i2ctest.IO
	for _, c := range cases {
		ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{c.hi, c.lo}})
	}
	pb := &i2ctest.Playback{Ops: ops, DontPanic: true}
	s, op := newSensor(t, lm75b(), pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	for _, c := range cases {
		vs, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0] != (sensors.Value{Field: "temperature", Value: c.want, Unit: "°C"}) {
			t.Errorf("0x%02x%02x: got %+v, want %v °C", c.hi, c.lo, vs, c.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestConversions(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Options)
		data []byte
		want float64
	}{
		// Little-endian 0x1234 = 4660, & 0x0FFF = 0x234 = 564, × 0.5 + 1 = 283.
		{"little mask scale offset", func(o *Options) { o.ByteOrder = "little"; o.Mask = 0x0FFF; o.Scale = 0.5; o.Offset = 1 }, []byte{0x34, 0x12}, 283},
		// 0xFFFE unsigned is 65534; signed 16-bit is −2.
		{"unsigned", func(o *Options) {}, []byte{0xFF, 0xFE}, 65534},
		{"signed", func(o *Options) { o.Signed = true }, []byte{0xFF, 0xFE}, -2},
		// Eight bytes, signed: −2 again, at full width.
		{"signed 64-bit", func(o *Options) { o.Signed = true; o.Length = 8 }, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}, -2},
		// Three bytes big-endian 0x010203 = 66051.
		{"three bytes", func(o *Options) { o.Length = 3 }, []byte{0x01, 0x02, 0x03}, 66051},
		// 3 × 0.1 is 0.30000000000000004 in floats; one decimal: 0.3.
		{"decimal scale", func(o *Options) { o.Length = 1; o.Scale = 0.1 }, []byte{0x03}, 0.3},
		// Shift without mask: 0xABCD >> 4 = 0xABC = 2748; signed 12-bit: 2748 − 4096 = −1348.
		{"shift signed", func(o *Options) { o.Shift = 4; o.Signed = true }, []byte{0xAB, 0xCD}, -1348},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Address = 0x20
			o.Length = len(c.data)
			c.mod(&o)
			pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x20, W: []byte{0x00}, R: c.data}}, DontPanic: true}
			s, _ := newSensor(t, o, pb)
			vs, err := s.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if vs[0].Value != c.want || vs[0].Field != "value" {
				t.Errorf("got %+v, want value %v", vs[0], c.want)
			}
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPlainReadWithoutRegister(t *testing.T) {
	// A PCF8574 port expander: read one byte, no register; input P0.
	o := DefaultOptions()
	o.Address, o.RegisterBytes, o.Length, o.Mask, o.Field = 0x20, 0, 1, 0x01, "door"
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x20, R: []byte{0xA5}}}, DontPanic: true}
	s, _ := newSensor(t, o, pb)
	vs, err := s.Read(context.Background())
	if err != nil || vs[0].Value != 1 || vs[0].Field != "door" {
		t.Fatalf("%v %+v", err, vs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestCommandThenDelayedRead(t *testing.T) {
	// A 16-bit command written, a stop, 5 ms, then the result read.
	o := DefaultOptions()
	o.Address, o.RegisterBytes, o.Register, o.Length = 0x40, 2, 0xE3F5, 2
	o.Delay = config.D(5 * time.Millisecond)
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0xE3, 0xF5}},
		{Addr: 0x40, R: []byte{0x12, 0x34}},
	}, DontPanic: true}
	s, _ := newSensor(t, o, pb)
	start := time.Now()
	vs, err := s.Read(context.Background())
	if err != nil || vs[0].Value != 0x1234 {
		t.Fatalf("%v %+v", err, vs)
	}
	if time.Since(start) < 5*time.Millisecond {
		t.Error("read did not wait the delay")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerThenReopen(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x48, W: []byte{0x00}, R: []byte{0x06, 0x40}}}, DontPanic: true}
	s, op := newSensor(t, lm75b(), &i2cbustest.Dead{}, pb)
	_, err := s.Read(context.Background())
	want := "i2c-register on i2c bus 1 addr 0x48: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want || !errors.Is(err, sensors.ErrNotFitted) {
		t.Errorf("error:\n got %v\nwant %s (not fitted)", err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.Read(context.Background()); err != nil || vs[0].Value != 6.25 {
		t.Fatalf("after re-open: %v %+v", err, vs)
	}
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x48, W: []byte{0x00}, R: []byte{0x06}}}, DontPanic: true}
	s, _ := newSensor(t, lm75b(), pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "i2c-register on i2c bus 1 addr 0x48: read 2 bytes from register 0x00: ") {
		t.Errorf("error = %v", err)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Options)
		keys string
	}{
		{func(o *Options) {}, ""},
		{func(o *Options) { o.Address = 0 }, "address"},
		{func(o *Options) { o.Address = 0x78 }, "address"},
		{func(o *Options) { o.Address = 0; o.Bus = "" }, "address,bus"},
		{func(o *Options) { o.RegisterBytes = 3 }, "register_bytes"},
		{func(o *Options) { o.Register = 0x100 }, "register"},
		{func(o *Options) { o.RegisterBytes = 2; o.Register = 0x100 }, ""},
		{func(o *Options) { o.RegisterBytes = 0; o.Register = 5 }, "register"},
		{func(o *Options) { o.Length = 9 }, "length"},
		{func(o *Options) { o.ByteOrder = "middle" }, "byte_order"},
		{func(o *Options) { o.Mask = 0x1FFFF }, "mask"},
		{func(o *Options) { o.Mask = -1 }, "mask"},
		{func(o *Options) { o.Shift = 16 }, "shift"},
		{func(o *Options) { o.Mask = 0x000F; o.Shift = 4 }, "shift"},
		{func(o *Options) { o.Scale = 0 }, "scale"},
		{func(o *Options) { o.Field = "a b" }, "field"},
		{func(o *Options) { o.Field = "" }, ""},
		{func(o *Options) { o.Unit = strings.Repeat("x", 33) }, "unit"},
		{func(o *Options) { o.Delay = config.D(2 * time.Second) }, "delay"},
	} {
		o := lm75b()
		c.mod(&o)
		_, err := New("reg", &o)
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
	}
}

func TestOptionsDecodeFromTOML(t *testing.T) {
	src := "address = 0x48\nregister = 0x00\nsigned = true\nmask = 0xFFE0\nshift = 5\nscale = 0.125\nunit = \"°C\"\nfield = \"temperature\"\ndelay = \"2ms\"\n"
	doc, root, err := config.Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	root.DecodeStrict(&o)
	if err := doc.Err(); err != nil {
		t.Fatal(err)
	}
	want := lm75b()
	want.Delay = config.D(2 * time.Millisecond)
	if o != want {
		t.Errorf("decoded %+v\nwant    %+v", o, want)
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
	if len(d.I2CAddrs) != 0 {
		t.Error("a generic driver is likely nowhere")
	}
	_, err := d.New("reg", d.Options())
	if err == nil || !strings.Contains(err.Error(), "address: must be set") {
		t.Errorf("defaults without an address: %v", err)
	}
}
