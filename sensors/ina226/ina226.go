package ina226

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
	"github.com/karana-energy/karana-edge/sensors/internal/ina"
)

// Name is the driver's registered name.
const Name = "ina226"

// Addrs are the 16 addresses A0/A1 select.
var Addrs = i2cbus.Range(0x40, 0x4f)

func init() {
	sensors.Register(sensors.Driver{
		Name:     Name,
		Doc:      "TI INA226 over I2C: bus voltage (V, up to 36 V), current (A), power (W), shunt voltage (mV)",
		I2CAddrs: Addrs,
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// ShuntOhms is the shunt resistor in Ω. Default 0.1.
	ShuntOhms float64 `toml:"shunt_ohms"`
	// MaxCurrent is the largest current expected, in A; it sets the
	// current resolution (max_current / 32768). Default 0.8192.
	MaxCurrent float64 `toml:"max_current"`
	// Averages is how many conversions the chip averages. Default 16.
	Averages int `toml:"averages"`
	// ConversionTime of the bus and of the shunt voltage, in µs. Default 1100.
	ConversionTime int `toml:"conversion_time"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Options:        i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x40},
		ShuntOhms:      0.1,
		MaxCurrent:     0.8192,
		Averages:       16,
		ConversionTime: 1100,
	}
}

// Registers and fixed values.
const (
	regConfig      = 0x00
	regShunt       = 0x01
	regBus         = 0x02
	regPower       = 0x03
	regCurrent     = 0x04
	regCalibration = 0x05
	regMaskEnable  = 0x06

	dieINA226 = 0x226 // bits 15-4 of the die id

	configReserved = 0x4000 // bit 14 reads 1
	modeContinuous = 0x7    // shunt and bus, continuous
	flagOVF        = 1 << 2

	shuntLSB = 2.5e-6  // V
	busLSB   = 1.25e-3 // V
	calScale = 0.00512 // equation 1
)

// Sensor is one INA226.
type Sensor struct {
	o        Options
	config   uint16
	cal      uint16
	current  float64 // A per bit of the current register: 0.00512 / (CAL × R)
	decimals [2]int  // current, power: enough for their LSB
	// guard is the calibration register, 0 after a reset.
	guard ina.Guard

	dev   i2cbus.Device
	first ina.FirstConversion
}

// New validates opts and returns the sensor; it does no I/O. Errors are
// config.FieldErrors keyed by option.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	if err := o.validate(); err != nil {
		return nil, err
	}
	cal, _ := calibration(o.ShuntOhms, o.MaxCurrent)
	lsb := calScale / (float64(cal) * o.ShuntOhms)
	return &Sensor{
		o:        o,
		config:   configReserved | ina.Bits(o.Averages, o.ConversionTime) | modeContinuous,
		cal:      uint16(cal),
		current:  lsb,
		decimals: [2]int{decimalsFor(lsb), decimalsFor(25 * lsb)},
		guard:    ina.Guard{Reg: regCalibration, Name: "calibration", Want: uint16(cal), Reset: ina.ZeroAfterReset},
		dev:      i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)},
		first:    ina.NewFirstConversion(ina.Cycle(o.Averages, o.ConversionTime, 2)), // bus and shunt
	}, nil
}

// calibration returns CAL for the options (equations 1 and 2) and the
// nominal Current_LSB.
func calibration(shuntOhms, maxCurrent float64) (int64, float64) {
	lsb := maxCurrent / (1 << 15)
	return int64(math.Floor(calScale / (lsb * shuntOhms))), lsb
}

// decimalsFor returns how many decimals show a quantity of resolution lsb
// with one digit to spare.
func decimalsFor(lsb float64) int {
	return max(0, int(math.Ceil(-math.Log10(lsb)))+1)
}

// shunt is the INA226's shunt input: ±81.92 mV.
var shunt = ina.Shunt{Chip: "INA226", Range: 0.08192, MinCurrent: 0.0001}

func (o *Options) validate() error {
	var errs config.FieldErrors
	o.Options.Validate(&errs, "INA226", Addrs, "set by the A0 and A1 pins")
	if shunt.Validate(&errs, o.ShuntOhms, o.MaxCurrent) {
		if cal, _ := calibration(o.ShuntOhms, o.MaxCurrent); cal < 1 || cal > 0x7FFF {
			// CAL = 0.00512 × 32768 / (max_current × R) ≤ 32767 means
			// max_current × R ≥ 5.12 mV.
			errs.Add("max_current", "the calibration register (15 bits) would overflow with %v A and %v Ω: max_current × shunt_ohms must be at least 5.12 mV (max_current ≥ %.4g A)", o.MaxCurrent, o.ShuntOhms, 0.00512/o.ShuntOhms)
		}
	}
	ina.Validate(&errs, o.Averages, o.ConversionTime)
	return errs.Err()
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read returns voltage, current, power and shunt voltage.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.guard.Read(ctx, &s.dev, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context) ([]sensors.Value, error) {
	if err := s.first.Wait(ctx, &s.dev); err != nil {
		return nil, err
	}

	var regs [5]uint16
	m := ina.Regs(&s.dev)
	for i, r := range []uint8{regShunt, regBus, regCurrent, regPower, regMaskEnable} {
		var err error
		if regs[i], err = m.ReadUint16(r); err != nil {
			return nil, s.dev.Err(fmt.Sprintf("read register 0x%02x", r), err)
		}
	}
	s.dev.OK()
	if err := s.guard.After(&s.dev); err != nil {
		return nil, err
	}
	if regs[4]&flagOVF != 0 {
		return nil, s.dev.Err("read", errors.New("overflow flag (OVF) set: the current or power is beyond the range max_current and shunt_ohms allow"))
	}
	shunt, bus, current, power := int16(regs[0]), regs[1], int16(regs[2]), regs[3]
	return []sensors.Value{
		// Exact decimals: count × 125 / 10^5 V and count × 25 / 10^4 mV.
		{Field: "voltage", Value: float64(int64(bus)*125) / 1e5, Unit: "V"},
		{Field: "current", Value: i2cbus.Round(float64(current)*s.current, s.decimals[0]), Unit: "A"},
		{Field: "power", Value: i2cbus.Round(float64(power)*25*s.current, s.decimals[1]), Unit: "W"},
		{Field: "shunt_voltage", Value: float64(int64(shunt)*25) / 1e4, Unit: "mV"},
	}, nil
}

// setup checks the ids and writes configuration and calibration.
func (s *Sensor) setup(context.Context) error {
	manuf, die, err := ina.IDs(&s.dev)
	if err != nil {
		return err
	}
	if manuf != ina.ManufacturerTI || die>>4 != dieINA226 {
		return s.dev.Err("init", fmt.Errorf("not an INA226: manufacturer id 0x%04x (want 0x%04x), die id 0x%04x (want 0x%03xN); an INA219 has no id registers (use driver = \"ina219\")", manuf, ina.ManufacturerTI, die, dieINA226))
	}
	m := ina.Regs(&s.dev)
	if err := m.WriteUint16(regConfig, s.config); err != nil {
		return s.dev.Err("init", err)
	}
	if err := m.WriteUint16(regCalibration, s.cal); err != nil {
		return s.dev.Err("init", err)
	}
	s.first.Started()
	return nil
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
