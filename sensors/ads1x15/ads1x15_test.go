package ads1x15

import (
	"context"
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

const addr = 0x48

// convert is one single-shot conversion as the driver does it: periph
// writes config (OS start | MUX | PGA | MODE single | DR | comparator off),
// sleeps 1/DR, then, before periph's conversion read, the driver polls
// config until OS reads 1 (polls: the config values read back).
// A poll of idle or busy reads the configuration written with OS 1 or 0;
// any other poll value is read as it is.
func convert(config uint16, polls []uint16, code uint16) []i2ctest.IO {
	ops := []i2ctest.IO{{Addr: addr, W: []byte{0x01, byte(config >> 8), byte(config)}}}
	for _, p := range polls {
		switch p {
		case idle:
			p = config | 0x8000
		case busy:
			p = config &^ 0x8000
		}
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{byte(p >> 8), byte(p)}})
	}
	return append(ops, i2ctest.IO{Addr: addr, W: []byte{0x00}, R: []byte{byte(code >> 8), byte(code)}})
}

func ops(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Config words (datasheet config register):
//
//	input 0, gain 1, 128 SPS:   0x8000 OS | 4<<12 MUX AIN0/GND | 1<<9 PGA ±4.096 |
//	                            0x0100 single | 4<<5 DR 128 | 0x3 comparator off = 0xC383
//	input 2-3, gain 16, 128 SPS: 0x8000 | 3<<12 | 5<<9 ±0.256 | 0x0100 | 0x0080 | 0x3 = 0xBB83
//
// Codes (LSB = full scale / 2^15):
//
//	1.5 V at ±4.096 V: 1.5 / 125 µV = 12000 = 0x2EE0
//	-0.1 V at ±0.256 V: -0.1 / 7.8125 µV = -12800 = 0xCE00
const (
	cfgAIN0Gain1   = 0xC383
	cfgAIN23Gain16 = 0xBB83
	idle           = 0xC383 // OS reads 1: not converting
	busy           = 0x4383 // OS reads 0
)

func newSensor(t *testing.T, model string, opts *Options, buses ...i2c.BusCloser) (*Sensor, *i2cbustest.Opener) {
	t.Helper()
	if opts == nil { // the defaults
		d := DefaultOptions(model)
		opts = &d
	}
	s, err := New("adc", model, opts)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	return s, op
}

func twoChannels() *Options {
	o := DefaultOptions(ADS1115)
	o.Channels = []Channel{{Input: "0", Field: "battery", Gain: 1}, {Input: "2-3", Field: "shunt", Gain: 16}}
	return &o
}

func TestADS1115SingleEndedAndDifferential(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		convert(cfgAIN0Gain1, []uint16{idle}, 0x2EE0),
		convert(cfgAIN23Gain16, []uint16{idle}, 0xCE00),
	), DontPanic: true}
	s, op := newSensor(t, ADS1115, twoChannels(), pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []sensors.Value{{Field: "battery", Value: 1.5, Unit: "V"}, {Field: "shunt", Value: -0.1, Unit: "V"}}
	if len(vs) != 2 || vs[0] != want[0] || vs[1] != want[1] {
		t.Errorf("values %+v, want %+v", vs, want)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSlowConversionIsWaitedFor(t *testing.T) {
	// The chip is still converting when periph's nominal wait ends: the
	// driver polls again rather than read the previous result.
	pb := &i2ctest.Playback{Ops: ops(
		convert(cfgAIN0Gain1, []uint16{busy, busy, idle}, 0x2EE0),
		convert(cfgAIN23Gain16, []uint16{idle}, 0xCE00),
	), DontPanic: true}
	s, _ := newSensor(t, ADS1115, twoChannels(), pb)
	vs, err := s.Read(context.Background())
	if err != nil || len(vs) != 2 || vs[0].Value != 1.5 {
		t.Fatalf("%v %+v", err, vs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestConversionThatNeverEndsIsAFault(t *testing.T) {
	polls := make([]uint16, maxPolls)
	for i := range polls {
		polls[i] = busy
	}
	cv := convert(cfgAIN0Gain1, polls, 0)
	pb := &i2ctest.Playback{Ops: cv[:len(cv)-1], DontPanic: true} // no conversion read
	s, _ := newSensor(t, ADS1115, twoChannels(), pb)
	_, err := s.Read(context.Background())
	want := "ads1115 on i2c bus 1 addr 0x48: read battery (input 0): conversion did not complete (config OS bit stayed 0)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestADS1015TwoThirdsGain(t *testing.T) {
	// Input 3 at gain 2/3 (±6.144 V), 1600 SPS (the ADS1015's DR 0b100):
	// 0x8000 | 7<<12 | 0<<9 | 0x0100 | 0x0080 | 0x3 = 0xF183. 5.0 V in
	// 12-bit 3 mV steps: 1666, left-aligned 1666<<4 = 0x6820, read as
	// 26656 × 6.144 V / 32768 = 4.998 V.
	o := DefaultOptions(ADS1015)
	o.Channels = []Channel{{Input: "3", Gain: GainTwoThirds}}
	pb := &i2ctest.Playback{Ops: convert(0xF183, []uint16{0xF183}, 0x6820), DontPanic: true}
	s, _ := newSensor(t, ADS1015, &o, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0] != (sensors.Value{Field: "ain3", Value: 4.998, Unit: "V"}) {
		t.Errorf("values %+v", vs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestDefaultsReadFourInputs(t *testing.T) {
	var parts [][]i2ctest.IO
	for in := range uint16(4) {
		// MUX 4+in: AINin against GND; codes 1000·(in+1) × 125 µV.
		parts = append(parts, convert(0x8000|(4+in)<<12|0x0383, []uint16{idle}, 1000*(in+1)))
	}
	pb := &i2ctest.Playback{Ops: ops(parts...), DontPanic: true}
	s, _ := newSensor(t, ADS1115, nil, pb)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0.125, 0.25, 0.375, 0.5} {
		if vs[i].Field != "ain"+string(rune('0'+i)) || vs[i].Value != want {
			t.Errorf("value %d = %+v, want ain%d %v V", i, vs[i], i, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerThenReopen(t *testing.T) {
	dead := &i2cbustest.Dead{}
	pb := &i2ctest.Playback{Ops: ops(
		convert(cfgAIN0Gain1, []uint16{idle}, 0x2EE0),
		convert(cfgAIN23Gain16, []uint16{idle}, 0xCE00),
	), DontPanic: true}
	s, op := newSensor(t, ADS1115, twoChannels(), dead, pb)
	_, err := s.Read(context.Background())
	want := "ads1115 on i2c bus 1 addr 0x48: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) {
		t.Error("never answered: not fitted")
	}
	if err := s.Close(); err != nil || !dead.Closed {
		t.Fatalf("Close: %v, closed %v", err, dead.Closed)
	}
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerAfterSuccessIsAFailure(t *testing.T) {
	pb := &i2ctest.Playback{Ops: convert(cfgAIN0Gain1, []uint16{idle}, 0x2EE0), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 3, Err: i2cbustest.NACK}
	s, _ := newSensor(t, ADS1115, twoChannels(), f)
	_, err := s.Read(context.Background())
	// The first channel read: the second's NACK is a failure.
	if err == nil || errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("error = %v", err)
	}
}

func TestShortRead(t *testing.T) {
	cv := convert(cfgAIN0Gain1, []uint16{idle}, 0)
	cv[len(cv)-1].R = cv[len(cv)-1].R[:1]
	pb := &i2ctest.Playback{Ops: cv, DontPanic: true}
	s, _ := newSensor(t, ADS1115, twoChannels(), pb)
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "read buffer length") {
		t.Errorf("error = %v", err)
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		model string
		mod   func(*Options)
		keys  string
	}{
		{ADS1115, func(o *Options) {}, ""},
		{ADS1115, func(o *Options) { o.DataRate = 8; o.Address = 0x4b }, ""},
		{ADS1115, func(o *Options) { o.DataRate = 100 }, "data_rate"},
		{ADS1015, func(o *Options) { o.DataRate = 860 }, "data_rate"},
		{ADS1115, func(o *Options) { o.Address = 0x4c }, "address"},
		{ADS1115, func(o *Options) { o.Channels = []Channel{{Input: "0"}, {Input: "4"}} }, "channels[1].input"},
		{ADS1115, func(o *Options) { o.Channels = []Channel{{Input: "1-2"}} }, "channels[0].input"},
		{ADS1115, func(o *Options) { o.Channels = []Channel{{Input: "0", Gain: 3}} }, "channels[0].gain"},
		{ADS1115, func(o *Options) { o.Channels = []Channel{{Input: "0", Field: "x"}, {Input: "1", Field: "x"}} }, "channels[1].field"},
		{ADS1115, func(o *Options) { o.Channels = []Channel{{Input: "0", Field: ".x"}} }, "channels[0].field"},
		{ADS1115, func(o *Options) { o.Channels = make([]Channel, 9) }, "channels"},
	}
	for _, c := range cases {
		o := DefaultOptions(c.model)
		c.mod(&o)
		_, err := New("adc", c.model, &o)
		var keys []string
		var fe config.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				keys = append(keys, e.Key)
			}
		} else if err != nil {
			t.Errorf("%+v: %v is not FieldErrors", o, err)
		}
		// Nine default channels also repeat a field: the first key counts.
		if (len(keys) == 0) != (c.keys == "") || len(keys) > 0 && keys[0] != c.keys {
			t.Errorf("%s %+v: keys %v, want %q (%v)", c.model, o, keys, c.keys, err)
		}
	}
}

func TestOptionsDecodeFromTOML(t *testing.T) {
	src := `
data_rate = 8
channels = [
  { input = "0", field = "battery", gain = 1 },
  { input = "2-3", field = "shunt", gain = 16 },
  { input = "1", gain = "2/3" },
  { input = "3", gain = 0.667 },
]
`
	doc, root, err := config.Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(ADS1115)
	root.DecodeStrict(&o)
	if err := doc.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := New("adc", ADS1115, &o)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Channels()
	want := []Channel{{"0", "battery", 1}, {"2-3", "shunt", 16}, {"1", "ain1", GainTwoThirds}, {"3", "ain3", GainTwoThirds}}
	if len(got) != len(want) {
		t.Fatalf("channels %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("channel %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	bad := `channels = [{ input = "0", gain = 3 }]`
	doc, root, _ = config.Parse("t.toml", []byte(bad))
	o = DefaultOptions(ADS1115)
	root.DecodeStrict(&o)
	err = doc.Err()
	if err == nil || !strings.Contains(err.Error(), "channels[0].gain") || !strings.Contains(err.Error(), `use "2/3", 1, 2, 4, 8 or 16`) {
		t.Errorf("decode error = %v", err)
	}
}

func TestGainTOML(t *testing.T) {
	for _, c := range []struct {
		in   any
		want Gain
		ok   bool
	}{
		{int64(16), 16, true}, {"2/3", GainTwoThirds, true}, {0.667, GainTwoThirds, true},
		{2.0, 2, true}, {"4", 4, true}, {int64(3), 0, false}, {"x", 0, false}, {true, 0, false},
	} {
		var g Gain
		err := g.UnmarshalTOML(c.in)
		if (err == nil) != c.ok || g != c.want {
			t.Errorf("UnmarshalTOML(%v) = %v, %v", c.in, g, err)
		}
	}
	for g, want := range map[Gain]string{GainTwoThirds: `"2/3"`, Gain16: "16", Gain1: "1"} {
		if b, _ := g.MarshalTOML(); string(b) != want {
			t.Errorf("MarshalTOML(%v) = %s, want %s", g, b, want)
		}
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{ADS1115, ADS1015} {
		d, ok := sensors.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		opts := d.Options()
		if bu, ok := opts.(sensors.BusUser); !ok || bu.BusName() != "1" {
			t.Errorf("%s: options %T do not name bus \"1\"", name, opts)
		}
		if _, err := d.New("adc", opts); err != nil {
			t.Errorf("%s defaults rejected: %v", name, err)
		}
		if len(d.I2CAddrs) != 4 || d.I2CAddrs[0] != 0x48 {
			t.Errorf("I2CAddrs %#x", d.I2CAddrs)
		}
	}
}

// The config register reads back what was written, OS (bit 15) aside
// (datasheet, config register: R/W). A bus held high reads 0xFFFF, whose
// OS bit says idle, and the conversion 0xFFFF (-1 code, -125 µV); a bus
// held low never says idle. Either is an error, not a voltage.
func TestConfigReadBackMustMatch(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(
		convert(cfgAIN0Gain1, []uint16{0xFFFF}, 0xFFFF),
	), DontPanic: true}
	o := DefaultOptions(ADS1115)
	o.Channels = []Channel{{Input: "0", Field: "battery", Gain: 1}}
	s, _ := newSensor(t, ADS1115, &o, pb)
	vs, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reads back 0xffff") {
		t.Errorf("read %+v, %v; want a read-back error", vs, err)
	}
}
