package ina3221

import (
	"context"
	"fmt"
	"slices"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
	"github.com/karana-energy/karana-edge/sensors/internal/ina"
)

// Name is the driver's registered name.
const Name = "ina3221"

// Addrs are the four addresses the A0 pin selects.
var Addrs = i2cbus.Range(0x40, 0x43)

func init() {
	sensors.Register(sensors.Driver{
		Name:     Name,
		Doc:      "TI INA3221 over I2C: three channels of bus voltage (V), current (A), power (W), shunt voltage (mV)",
		I2CAddrs: Addrs,
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// Channels lists the channels read, 1-3. Default [1, 2, 3].
	Channels []int `toml:"channels"`
	// ShuntOhms is each channel's shunt in Ω: three values (channels 1-3)
	// or one for all. Default [0.1].
	ShuntOhms []float64 `toml:"shunt_ohms"`
	// Averages is how many conversions the chip averages. Default 16.
	Averages int `toml:"averages"`
	// ConversionTime of each bus and shunt conversion, in µs. Default 1100.
	ConversionTime int `toml:"conversion_time"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Options:        i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x40},
		Channels:       []int{1, 2, 3},
		ShuntOhms:      []float64{0.1},
		Averages:       16,
		ConversionTime: 1100,
	}
}

// Registers and fixed values.
const (
	regConfig  = 0x00
	dieINA3221 = 0x3220

	modeContinuous = 0x7
	shuntLSBuV     = 40 // µV per bit of bits 15-3
	busLSBmV       = 8  // mV per bit of bits 15-3
)

// channel is one enabled channel: its registers, shunt and field names.
type channel struct {
	n                           int
	shunt                       float64
	regShunt, regBus            uint8
	voltage, current, power, sv string
}

// Sensor is one INA3221.
type Sensor struct {
	o      Options
	chans  []channel
	config uint16
	// guard is the configuration register: any other value than the one
	// written is a reset (to 0x7127).
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
	s := &Sensor{o: o, dev: i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)}}
	enable := 0
	for n := 1; n <= 3; n++ {
		if !slices.Contains(o.Channels, n) {
			continue
		}
		shunt := o.ShuntOhms[0]
		if len(o.ShuntOhms) == 3 {
			shunt = o.ShuntOhms[n-1]
		}
		p := fmt.Sprintf("ch%d_", n)
		s.chans = append(s.chans, channel{
			n: n, shunt: shunt,
			regShunt: uint8(2*n - 1), regBus: uint8(2 * n),
			voltage: p + "voltage", current: p + "current", power: p + "power", sv: p + "shunt_voltage",
		})
		enable |= 1 << (15 - n) // CH1en is bit 14
	}
	s.config = uint16(enable) | ina.Bits(o.Averages, o.ConversionTime) | modeContinuous
	s.guard = ina.Guard{Reg: regConfig, Name: "configuration", Want: s.config}
	s.first = ina.NewFirstConversion(ina.Cycle(o.Averages, o.ConversionTime, 2*len(s.chans))) // bus and shunt of each
	return s, nil
}

func (o *Options) validate() error {
	var errs config.FieldErrors
	o.Options.Validate(&errs, "INA3221", Addrs, "A0 to GND 0x40, VS 0x41, SDA 0x42, SCL 0x43")
	seen := map[int]bool{}
	for _, n := range o.Channels {
		if n < 1 || n > 3 {
			errs.Add("channels", "invalid channel %d: the INA3221 has channels 1, 2 and 3", n)
		} else if seen[n] {
			errs.Add("channels", "channel %d listed twice", n)
		}
		seen[n] = true
	}
	if len(o.Channels) == 0 {
		errs.Add("channels", "must list at least one channel (1, 2, 3)")
	}
	if l := len(o.ShuntOhms); l != 1 && l != 3 {
		errs.Add("shunt_ohms", "must hold one value (for every channel) or three (channels 1-3), got %d", l)
	} else {
		for _, r := range o.ShuntOhms {
			if i2cbus.Finite(&errs, "shunt_ohms", r) && (r <= 0 || r > 100) {
				errs.Add("shunt_ohms", "must be more than 0 and at most 100 Ω, got %v", r)
			}
		}
	}
	ina.Validate(&errs, o.Averages, o.ConversionTime)
	return errs.Err()
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read returns four values per enabled channel.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.guard.Read(ctx, &s.dev, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context) ([]sensors.Value, error) {
	if err := s.first.Wait(ctx, &s.dev); err != nil {
		return nil, err
	}

	vals := make([]sensors.Value, 0, 4*len(s.chans))
	m := ina.Regs(&s.dev)
	for _, c := range s.chans {
		sh, err := m.ReadUint16(c.regShunt)
		if err != nil {
			return nil, s.dev.Err(fmt.Sprintf("read channel %d shunt", c.n), err)
		}
		bus, err := m.ReadUint16(c.regBus)
		if err != nil {
			return nil, s.dev.Err(fmt.Sprintf("read channel %d bus", c.n), err)
		}
		s.dev.OK()
		// Bits 15-3, two's complement: an arithmetic shift keeps the sign.
		shuntUV := int64(int16(sh)>>3) * shuntLSBuV
		busMV := int64(int16(bus)>>3) * busLSBmV
		volts := float64(busMV) / 1e3
		amps := float64(shuntUV) / 1e6 / c.shunt
		vals = append(vals,
			sensors.Value{Field: c.voltage, Value: volts, Unit: "V"},
			sensors.Value{Field: c.current, Value: i2cbus.Round(amps, 6), Unit: "A"},
			sensors.Value{Field: c.power, Value: i2cbus.Round(volts*amps, 6), Unit: "W"},
			sensors.Value{Field: c.sv, Value: float64(shuntUV) / 1e3, Unit: "mV"},
		)
	}
	if err := s.guard.After(&s.dev); err != nil {
		return nil, err
	}
	return vals, nil
}

// setup checks the ids and writes the configuration.
func (s *Sensor) setup(context.Context) error {
	manuf, die, err := ina.IDs(&s.dev)
	if err != nil {
		return err
	}
	if manuf != ina.ManufacturerTI || die != dieINA3221 {
		hint := ""
		if manuf == ina.ManufacturerTI && die>>4 == 0x226 {
			hint = ` (it is an INA226: use driver = "ina226")`
		}
		return s.dev.Err("init", fmt.Errorf("not an INA3221: manufacturer id 0x%04x (want 0x%04x), die id 0x%04x (want 0x%04x)%s", manuf, ina.ManufacturerTI, die, dieINA3221, hint))
	}
	m := ina.Regs(&s.dev)
	if err := m.WriteUint16(regConfig, s.config); err != nil {
		return s.dev.Err("init", err)
	}
	s.first.Started()
	return nil
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
