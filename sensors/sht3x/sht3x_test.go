package sht3x

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

const addr = 0x44

// initOps: soft reset 0x30A2; read status 0xF32D, which after a reset is
// 0x8010 (alert pending, reset detected) with CRC 0xE1; clear status 0x3041.
var initOps = []i2ctest.IO{
	{Addr: addr, W: []byte{0x30, 0xA2}},
	{Addr: addr, W: []byte{0xF3, 0x2D}, R: []byte{0x80, 0x10, 0xE1}},
	{Addr: addr, W: []byte{0x30, 0x41}},
}

// measureCmd is single shot, high repeatability, no clock stretching.
var measureCmd = i2ctest.IO{Addr: addr, W: []byte{0x24, 0x00}}

func result(b ...byte) i2ctest.IO { return i2ctest.IO{Addr: addr, R: b} }

// The measurement used throughout, checked by the datasheet formulas:
//
//	S_T  = 0x6666 = 26214: T  = −45 + 175 × 26214/65535 = −45 + 70 = 25 °C
//	S_RH = 0x8000 = 32768: RH = 100 × 32768/65535 = 50.0008 → 50 %RH
//	CRC8(0x66 0x66) = 0x93, CRC8(0x80 0x00) = 0xA2
var good = result(0x66, 0x66, 0x93, 0x80, 0x00, 0xA2)

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
	s, err := New("ambient", o)
	if err != nil {
		t.Fatal(err)
	}
	op := &i2cbustest.Opener{Buses: buses}
	s.dev.Opener = op.Open
	return s, op
}

func check(t *testing.T, vs []sensors.Value, temp, hum float64) {
	t.Helper()
	want := []sensors.Value{{Field: "temperature", Value: temp, Unit: "°C"}, {Field: "humidity", Value: hum, Unit: "%RH"}}
	if len(vs) != 2 || vs[0] != want[0] || vs[1] != want[1] {
		t.Errorf("values %+v, want %+v", vs, want)
	}
}

func TestCRC8DatasheetExample(t *testing.T) {
	// Datasheet, "Checksum Calculation": CRC(0xBEEF) = 0x92.
	if got := CRC8([]byte{0xBE, 0xEF}); got != 0x92 {
		t.Errorf("CRC8(0xBEEF) = 0x%02x, want 0x92", got)
	}
}

func TestMeasure(t *testing.T) {
	// Second read: S_T 0x1999 = 6553 → −45 + 175 × 6553/65535 = −27.5013
	// → −27.5 °C (CRC 0x9D); S_RH 0xFFFF → 100 %RH (CRC 0xAC).
	pb := &i2ctest.Playback{Ops: ops(initOps,
		[]i2ctest.IO{measureCmd, good},
		[]i2ctest.IO{measureCmd, result(0x19, 0x99, 0x9D, 0xFF, 0xFF, 0xAC)},
	), DontPanic: true}
	s, op := newSensor(t, nil, pb)
	if op.Opens() != 0 {
		t.Fatal("New opened the bus")
	}
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, 25, 50)
	vs, err = s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, -27.5, 100)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestCRCMismatchIsAnError(t *testing.T) {
	for _, c := range []struct {
		data []byte
		want string
	}{
		{[]byte{0x66, 0x66, 0x94, 0x80, 0x00, 0xA2}, "temperature CRC mismatch: data 0x6666 has CRC 0x93, received 0x94"},
		{[]byte{0x66, 0x66, 0x93, 0x80, 0x01, 0xA2}, "humidity CRC mismatch: data 0x8001 has CRC"},
		// A stuck bus: SDA held low reads zeros, a sensor that let go of
		// it 0xff. Neither passes: CRC8(0x00 0x00) = 0x81 and CRC8(0xFF
		// 0xFF) = 0xAC (polynomial 0x31, initial 0xFF, worked by hand).
		{make([]byte, 6), "temperature CRC mismatch: data 0x0000 has CRC 0x81, received 0x00"},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, "temperature CRC mismatch: data 0xffff has CRC 0xac, received 0xff"},
	} {
		pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd, result(c.data...)}), DontPanic: true}
		s, _ := newSensor(t, nil, pb)
		_, err := s.Read(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), "sht3x on i2c bus 1 addr 0x44: read: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error = %v, want %q", err, c.want)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestEarlyReadIsRetried(t *testing.T) {
	// The first read of the result is NACKed (still measuring); the retry
	// gets it.
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd, good}), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 4, Err: i2cbustest.NACK}
	s, _ := newSensor(t, nil, f)
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check(t, vs, 25, 50)
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestRetriedReadDoesNotBlameTheNACKForACRCError(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd, result(0x66, 0x66, 0x00, 0x80, 0x00, 0xA2)}), DontPanic: true}
	f := &i2cbustest.Fail{BusCloser: pb, At: 4, Err: i2cbustest.NACK}
	s, _ := newSensor(t, nil, f)
	_, err := s.Read(context.Background())
	if err == nil || strings.Contains(err.Error(), "no answer") || strings.Contains(err.Error(), "remote I/O") || !strings.Contains(err.Error(), "CRC mismatch") {
		t.Errorf("error = %v; want the CRC mismatch alone", err)
	}
}

func TestResultNeverReady(t *testing.T) {
	// Every read attempt NACKed: 1 + readRetries tries.
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd}), DontPanic: true}
	n := 0
	bus := &nackReads{BusCloser: pb, n: &n}
	s, _ := newSensor(t, nil, bus)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no answer") || errors.Is(err, sensors.ErrNotFitted) {
		t.Errorf("error = %v; want a no-answer failure (the chip answered at set-up)", err)
	}
	if n != 1+readRetries {
		t.Errorf("%d read attempts, want %d", n, 1+readRetries)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// nackReads NACKs every transaction that only reads.
type nackReads struct {
	i2c.BusCloser
	n *int
}

func (b *nackReads) Tx(addr uint16, w, r []byte) error {
	if len(w) == 0 && len(r) > 0 {
		*b.n++
		return i2cbustest.NACK
	}
	return b.BusCloser.Tx(addr, w, r)
}

func TestStatusWithBadCRCIsNotAnSHT3x(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: addr, W: []byte{0x30, 0xA2}},
		{Addr: addr, W: []byte{0xF3, 0x2D}, R: []byte{0xFF, 0xFF, 0xFF}},
	}, DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "status CRC mismatch") || !strings.Contains(err.Error(), "is the chip at this address an SHT3x?") {
		t.Errorf("error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoAnswerThenReopenResetsAgain(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd, good}), DontPanic: true}
	s, op := newSensor(t, nil, &i2cbustest.Dead{}, pb)
	_, err := s.Read(context.Background())
	want := "sht3x on i2c bus 1 addr 0x44: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
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
	check(t, vs, 25, 50)
	if op.Opens() != 2 {
		t.Errorf("opens %d", op.Opens())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestShortRead(t *testing.T) {
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{measureCmd, result(0x66, 0x66, 0x93)}), DontPanic: true}
	s, _ := newSensor(t, nil, pb)
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "read buffer length") {
		t.Errorf("error = %v", err)
	}
}

func TestLowRepeatability(t *testing.T) {
	o := DefaultOptions()
	o.Repeatability = "low"
	pb := &i2ctest.Playback{Ops: ops(initOps, []i2ctest.IO{{Addr: addr, W: []byte{0x24, 0x16}}, good}), DontPanic: true}
	s, _ := newSensor(t, &o, pb)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Options)
		keys string
	}{
		{func(o *Options) {}, ""},
		{func(o *Options) { o.Address = 0x45; o.Repeatability = "medium" }, ""},
		{func(o *Options) { o.Address = 0x46 }, "address"},
		{func(o *Options) { o.Repeatability = "max" }, "repeatability"},
		{func(o *Options) { o.Bus = "" }, "bus"},
	} {
		o := DefaultOptions()
		c.mod(&o)
		_, err := New("ambient", &o)
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
	if _, err := d.New("ambient", d.Options()); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}
