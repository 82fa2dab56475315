package ina219

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ina219"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
	"github.com/karana-energy/karana-edge/sensors/internal/ina"
)

// Name is the driver's registered name.
const Name = "ina219"

// Addrs are the 16 addresses A0/A1 can select.
var Addrs = i2cbus.Range(0x40, 0x4f)

func init() {
	sensors.Register(sensors.Driver{
		Name:     Name,
		Doc:      "TI INA219 over I2C: bus voltage (V), current (A), power (W), shunt voltage (mV); bus up to 26 V",
		I2CAddrs: Addrs,
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// ShuntOhms is the shunt resistor in Ω. Default 0.1.
	ShuntOhms float64 `toml:"shunt_ohms"`
	// MaxCurrent is the largest current expected, in A; it sets the current
	// resolution (max_current / 32768). Default 3.2.
	MaxCurrent float64 `toml:"max_current"`
	// BusRange is the bus voltage full scale in V: 16 or 32. Default 32.
	BusRange int `toml:"bus_range"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Options:    i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x40},
		ShuntOhms:  0.1,
		MaxCurrent: 3.2,
		BusRange:   32,
	}
}

// Registers and constants from the datasheet.
const (
	regConfig      = 0x00
	regCalibration = 0x05
	// configBase is periph's configuration without BRNG: PGA /8, 12-bit
	// 128-sample averaging for bus and shunt, continuous shunt and bus.
	configBase = 0x1FFF
	brng32V    = 1 << 13

	regBus   = 0x02
	flagCNVR = 1 << 1 // bus voltage register: a conversion has ended
	// firstConversion is the longest the first conversion after the
	// configuration write can take: shunt, then bus, each 128 samples of
	// 12 bits at 586 µs (electrical characteristics, maximum; 532 µs
	// typical). Until it ends current and power read 0.
	firstConversion = 2 * 128 * 586 * time.Microsecond
	// cnvrPolls more reads of CNVR, cnvrGap apart, allow for a chip
	// slower than its datasheet before the set-up counts as failed.
	cnvrPolls = 5
	cnvrGap   = 15 * time.Millisecond
)

// calibration returns the calibration register value periph computes for
// the options (its integer arithmetic, in nA and nΩ), or 0 when it cannot.
func calibration(shuntOhms, maxCurrent float64) (cal int64, lsb int64) {
	sense := int64(math.Round(shuntOhms * 1e9))
	lsb = int64(math.Round(maxCurrent*1e9)) / (1 << 15)
	if sense <= 0 || lsb <= 0 {
		return 0, lsb
	}
	// 0.04096 / (Current_LSB × R) with Current_LSB in nA and R in nΩ.
	const scale = int64(physic.Ampere) * int64(physic.Ohm) / 100000 << 12
	return scale / (lsb * sense), lsb
}

// Sensor is one INA219.
type Sensor struct {
	o   Options
	cfg uint16 // configuration register value written after periph's
	// guard is the calibration register periph writes, 0 after a reset.
	guard ina.Guard

	dev  i2cbus.Device
	chip *ina219.Dev
	// sleep waits; tests replace it to see when the driver waits.
	sleep func(context.Context, time.Duration) error
}

// New validates opts and returns the sensor; it does no I/O. Errors are
// config.FieldErrors keyed by option.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	if err := o.validate(); err != nil {
		return nil, err
	}
	cfg := uint16(configBase)
	if o.BusRange == 32 {
		cfg |= brng32V
	}
	cal, _ := calibration(o.ShuntOhms, o.MaxCurrent)
	return &Sensor{
		o:     o,
		cfg:   cfg,
		guard: ina.Guard{Reg: regCalibration, Name: "calibration", Want: uint16(cal), Reset: ina.ZeroAfterReset},
		dev:   i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)},
		sleep: sensors.Sleep,
	}, nil
}

// shunt is the INA219's shunt input at PGA /8: ±320 mV.
var shunt = ina.Shunt{Chip: "INA219", Range: 0.32, MinCurrent: 0.001}

func (o *Options) validate() error {
	var errs config.FieldErrors
	o.Options.Validate(&errs, "INA219", Addrs, "set by the A0 and A1 pins")
	if shunt.Validate(&errs, o.ShuntOhms, o.MaxCurrent) {
		if cal, _ := calibration(o.ShuntOhms, o.MaxCurrent); cal < 1 || cal >= 1<<16 {
			// Cal = 0.04096 / (max_current/32768 × R) < 65536 means
			// max_current × R > 0.02048 V.
			errs.Add("max_current", "the calibration register would overflow with %v A and %v Ω: max_current × shunt_ohms must be at least 0.0205 V (max_current ≥ %.4g A)", o.MaxCurrent, o.ShuntOhms, 0.02048/o.ShuntOhms)
		}
	}
	if o.BusRange != 16 && o.BusRange != 32 {
		errs.Add("bus_range", "must be 16 or 32 (V), got %d", o.BusRange)
	}
	return errs.Err()
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// errOverflow is periph's text for the OVF flag (its error is unexported).
const errOverflow = "bus voltage register overflow"

// Read returns voltage, current, power and shunt voltage, setting the chip
// up on the first read after the bus was opened and after a chip reset.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.guard.Read(ctx, &s.dev, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(context.Context) ([]sensors.Value, error) {
	pm, err := s.chip.Sense()
	if err != nil {
		if err.Error() == errOverflow {
			err = errors.New("overflow flag (OVF) set: the current or power is beyond the range max_current and shunt_ohms allow")
		}
		return nil, s.dev.Err("read", err)
	}
	s.dev.OK()
	// A chip that stops driving SDA part-way reads 0xFFFF from then on
	// (current −1 LSB, power 0xFFFF).
	if err := s.guard.After(&s.dev); err != nil {
		return nil, err
	}
	// physic units are nV, nA, nW: exact integers, one division each.
	return []sensors.Value{
		{Field: "voltage", Value: float64(pm.Voltage) / float64(physic.Volt), Unit: "V"},
		{Field: "current", Value: float64(pm.Current) / float64(physic.Ampere), Unit: "A"},
		{Field: "power", Value: float64(pm.Power) / float64(physic.Watt), Unit: "W"},
		{Field: "shunt_voltage", Value: float64(pm.Shunt) / float64(physic.MilliVolt), Unit: "mV"},
	}, nil
}

// setup constructs periph's device (which writes calibration and its
// configuration), writes the configuration again with the bus range, and
// waits for the first conversion: before it ends, current and power read 0.
func (s *Sensor) setup(ctx context.Context) error {
	chip, err := ina219.New(s.dev.Dev().Bus, &ina219.Opts{
		Address:       int(s.o.Address),
		SenseResistor: physic.ElectricResistance(math.Round(s.o.ShuntOhms * float64(physic.Ohm))),
		MaxCurrent:    physic.ElectricCurrent(math.Round(s.o.MaxCurrent * float64(physic.Ampere))),
	})
	if err != nil {
		return s.dev.Err("init", err)
	}
	s.dev.OK()
	w := []byte{regConfig, byte(s.cfg >> 8), byte(s.cfg)}
	if err := s.dev.Dev().Tx(w, nil); err != nil {
		return s.dev.Err("init", err)
	}
	if err := s.waitFirstConversion(ctx); err != nil {
		return err
	}
	s.chip = chip
	return nil
}

// waitFirstConversion waits the first conversion's maximum time after the
// configuration write (which clears CNVR), then until CNVR is set.
func (s *Sensor) waitFirstConversion(ctx context.Context) error {
	const op = "init: waiting for the first conversion"
	if err := s.sleep(ctx, firstConversion); err != nil {
		return s.dev.Err(op, err)
	}
	var b [2]byte
	for i := 0; ; i++ {
		if err := s.dev.Dev().Tx([]byte{regBus}, b[:]); err != nil {
			return s.dev.Err(op, err)
		}
		if binary.BigEndian.Uint16(b[:])&flagCNVR != 0 {
			return nil
		}
		if i == cnvrPolls {
			return s.dev.Err(op, fmt.Errorf("CNVR (conversion ready) still 0 %s after the configuration was written (bus voltage register 0x%02x%02x)", firstConversion+cnvrPolls*cnvrGap, b[0], b[1]))
		}
		if err := s.sleep(ctx, cnvrGap); err != nil {
			return s.dev.Err(op, err)
		}
	}
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
