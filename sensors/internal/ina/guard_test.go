package ina

import (
	"context"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

func r16(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: 0x40, W: []byte{reg}, R: []byte{byte(v >> 8), byte(v)}}
}

func device(ops ...i2ctest.IO) *i2cbus.Device {
	pb := &i2ctest.Playback{Ops: ops, DontPanic: true}
	return &i2cbus.Device{Driver: "ina", Bus: "1", Addr: 0x40, Opener: (&i2cbustest.Opener{Buses: []i2c.BusCloser{pb}}).Open}
}

// The calibration guard (INA219, INA226): 0 is a reset, set up again at
// once; another wrong value is a stuck bus or another chip, left for the
// sampler's re-open. After the data any change drops the read.
func TestCalibrationGuard(t *testing.T) {
	g := Guard{Reg: 0x05, Name: "calibration", Want: 0x1062, Reset: ZeroAfterReset}
	dev := device(
		r16(0x05, 0x1062), // read 2: intact
		r16(0x05, 0x1062), // after the data
		r16(0x05, 0x0000), // read 3: reset
		r16(0x05, 0xffff), // read 4: stuck
		r16(0x05, 0x1062), // read 5: intact
		r16(0x05, 0xffff), // after the data: stuck
	)
	setups := 0
	setup := func(context.Context) error { setups++; return nil }
	read := func(context.Context) ([]sensors.Value, error) { return []sensors.Value{{Field: "v"}}, nil }
	readAfter := func(context.Context) ([]sensors.Value, error) {
		if err := g.After(dev); err != nil {
			return nil, err
		}
		return []sensors.Value{{Field: "v"}}, nil
	}
	ctx := context.Background()

	if _, err := g.Read(ctx, dev, setup, read); err != nil || setups != 1 {
		t.Fatalf("read 1 (sets up, no guard read): %v, %d setups", err, setups)
	}
	if _, err := g.Read(ctx, dev, setup, readAfter); err != nil || setups != 1 {
		t.Fatalf("read 2: %v, %d setups", err, setups)
	}
	_, err := g.Read(ctx, dev, setup, read)
	if want := "ina on i2c bus 1 addr 0x40: read: the chip had reset (calibration read 0x0000, written 0x1062: a brown-out?); it is set up again"; err == nil || !strings.HasPrefix(err.Error(), want) || setups != 2 {
		t.Errorf("read 3 = %v (%d setups), want %q and a second setup", err, setups, want)
	}
	_, err = g.Read(ctx, dev, setup, read)
	if want := "ina on i2c bus 1 addr 0x40: read: calibration reads 0xffff, written 0x1062: a stuck bus or another chip"; err == nil || err.Error() != want || setups != 2 {
		t.Errorf("read 4 = %v (%d setups), want %q and no setup", err, setups, want)
	}
	_, err = g.Read(ctx, dev, setup, readAfter)
	if want := "calibration reads 0xffff after the data, written 0x1062: the bus stuck"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("read 5 = %v, want %q", err, want)
	}
	// The chip is set up again by the next read, which reads no guard first.
	if _, err := g.Read(ctx, dev, setup, read); err != nil || setups != 3 {
		t.Errorf("read 6 after a stuck read: %v, %d setups, want 3", err, setups)
	}
	if err := dev.Close(); err != nil {
		t.Errorf("transactions left: %v", err)
	}
}

// The INA3221's guard is its configuration: any change is a reset (its
// power-on value is 0x7127, datasheet table "Configuration Register").
func TestConfigurationGuardResetsOnAnyChange(t *testing.T) {
	g := Guard{Reg: 0x00, Name: "configuration", Want: 0x5007}
	dev := device(r16(0x00, 0x7127))
	setups := 0
	setup := func(context.Context) error { setups++; return nil }
	read := func(context.Context) ([]sensors.Value, error) { return nil, nil }
	g.Read(context.Background(), dev, setup, read)
	_, err := g.Read(context.Background(), dev, setup, read)
	if err == nil || !strings.Contains(err.Error(), "had reset (configuration read 0x7127, written 0x5007") || setups != 2 {
		t.Errorf("power-on configuration: %v, %d setups", err, setups)
	}
}

func TestIDs(t *testing.T) {
	dev := device(r16(0xfe, 0x5449), r16(0xff, 0x2260))
	var manuf, die uint16
	_, err := dev.Read(context.Background(), nil, func(context.Context, bool) ([]sensors.Value, error) {
		var err error
		manuf, die, err = IDs(dev)
		return nil, err
	})
	if err != nil || manuf != ManufacturerTI || die != 0x2260 {
		t.Errorf("IDs = %#04x %#04x, %v", manuf, die, err)
	}
}

func TestFirstConversion(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	f := FirstConversion{Cycle: 35 * time.Millisecond, Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	f.Started()
	now = now.Add(10 * time.Millisecond)
	f.Wait(context.Background(), device())
	now = now.Add(25 * time.Millisecond)
	f.Wait(context.Background(), device())
	if len(slept) != 1 || slept[0] != 25*time.Millisecond {
		t.Errorf("slept %v, want the 25ms left once", slept)
	}
}

func TestShuntValidate(t *testing.T) {
	ina219 := Shunt{Chip: "INA219", Range: 0.32, MinCurrent: 0.001}
	ina226 := Shunt{Chip: "INA226", Range: 0.08192, MinCurrent: 0.0001}
	for _, c := range []struct {
		sh         Shunt
		ohms, amps float64
		ok         bool
		msg        string
	}{
		{ina219, 0.1, 3.2, true, ""}, // 0.32000000000000006 V: at full scale
		{ina219, 0.1, 5, false, "max_current: 5 A through 0.1 Ω drops 500 mV, beyond the INA219's ±320 mV shunt input"},
		{ina226, 0.1, 1, false, "max_current: 1 A through 0.1 Ω drops 100 mV, beyond the INA226's ±81.92 mV shunt input"},
		{ina226, 0.1, 0.00005, false, "max_current: must be from 0.0001 to 1000 A, got 5e-05"},
		{ina219, 0, 1, false, "shunt_ohms: must be more than 0 and at most 100 Ω, got 0"},
	} {
		var errs config.FieldErrors
		ok := c.sh.Validate(&errs, c.ohms, c.amps)
		if ok != c.ok || (c.msg == "") != (len(errs) == 0) || (c.msg != "" && !strings.HasPrefix(errs.Error(), c.msg)) {
			t.Errorf("%s %v Ω %v A: ok %v, errors %v; want %v, %q", c.sh.Chip, c.ohms, c.amps, ok, errs, c.ok, c.msg)
		}
	}
}
