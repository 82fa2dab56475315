package mcp9808

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/devices/v3/mcp9808"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// Name is the driver's registered name.
const Name = "mcp9808"

// Addrs are the eight addresses A0-A2 select.
var Addrs = i2cbus.Range(0x18, 0x1f)

func init() {
	sensors.Register(sensors.Driver{
		Name:     Name,
		Doc:      "Microchip MCP9808 over I2C: temperature (°C), ±0.25 °C",
		I2CAddrs: Addrs,
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// Resolution in °C: 0.5, 0.25, 0.125 or 0.0625. Default 0.0625.
	Resolution float64 `toml:"resolution"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Options:    i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x18},
		Resolution: 0.0625,
	}
}

// resolutions maps the option to periph's setting and the conversion time
// (datasheet table "Temperature conversion time", maximum).
var resolutions = map[float64]struct {
	opts mcp9808.Opts
	conv time.Duration
}{
	0.5:    {mcp9808.Opts{Res: mcp9808.Low}, 30 * time.Millisecond},
	0.25:   {mcp9808.Opts{Res: mcp9808.Medium}, 65 * time.Millisecond},
	0.125:  {mcp9808.Opts{Res: mcp9808.High}, 130 * time.Millisecond},
	0.0625: {mcp9808.Opts{Res: mcp9808.Maximum}, 250 * time.Millisecond},
}

// Identification registers and their values.
const (
	regTemperature  = 0x05
	regManufacturer = 0x06
	regDeviceID     = 0x07
	manufacturerID  = 0x0054
	deviceID        = 0x04 // upper byte of regDeviceID
)

// Sensor is one MCP9808.
type Sensor struct {
	o    Options
	opts mcp9808.Opts
	conv time.Duration

	dev i2cbus.Device
}

// New validates opts and returns the sensor; it does no I/O. Errors are
// config.FieldErrors keyed by option.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	o.Options.Validate(&errs, "MCP9808", Addrs, "set by the A0, A1 and A2 pins")
	r, ok := resolutions[o.Resolution]
	if !ok {
		errs.Add("resolution", "invalid resolution %v: use 0.5, 0.25, 0.125 or 0.0625 (°C)", o.Resolution)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	po := r.opts
	po.Addr = int(o.Address)
	return &Sensor{
		o:    o,
		opts: po,
		conv: r.conv,
		dev:  i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)},
	}, nil
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read returns the latest conversion, setting the chip up on the first read
// after the bus opened.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context, _ bool) ([]sensors.Value, error) {
	var b [2]byte
	if err := s.dev.Dev().Tx([]byte{regTemperature}, b[:]); err != nil {
		return nil, s.dev.Err("read", err)
	}
	s.dev.OK()
	raw := uint16(b[0])<<8 | uint16(b[1])
	switch raw {
	case 0x0000:
		return nil, s.notConverted()
	case 0xFFFF:
		return nil, s.dev.Err("read", errors.New("temperature register reads 0xffff: the chip let go of SDA mid-read (with the power-on limits of 0 °C a real −0.0625 °C reads 0x3fff)"))
	}
	// Bits 12-0: 13-bit two's complement in 1/16 °C; 15-13 are the alert
	// flags. One division by 16 gives the exact float.
	return []sensors.Value{{Field: "temperature", Value: float64(int16(raw<<3)>>3) / 16, Unit: "°C"}}, nil
}

// notConverted explains a temperature register of 0x0000. The flags in
// bits 15-13 compare the temperature with T_CRIT, T_UPPER and T_LOWER,
// which are 0 °C from power-on (this driver never writes them) and are
// set whatever the alert output's configuration: a real 0.0000 °C reads
// 0x8000. 0x0000 is the register's value before the first conversion
// after a reset, or a bus held low; the ids tell which.
func (s *Sensor) notConverted() error {
	d := s.dev.Dev()
	var m, id [2]byte
	if err := d.Tx([]byte{regManufacturer}, m[:]); err != nil {
		return s.dev.Err("read", err)
	}
	if err := d.Tx([]byte{regDeviceID}, id[:]); err != nil {
		return s.dev.Err("read", err)
	}
	if uint16(m[0])<<8|uint16(m[1]) != manufacturerID || id[0] != deviceID {
		return s.dev.Err("read", fmt.Errorf("temperature register reads 0x0000 and the ids 0x%02x%02x 0x%02x%02x: SDA held low (a stuck bus) or another chip", m[0], m[1], id[0], id[1]))
	}
	s.dev.Reset() // a reset also restored the power-on resolution
	return s.dev.Err("read", errors.New("temperature register reads 0x0000, its value before the first conversion: the chip was reset (a brown-out?); it is set up again on the next read"))
}

// setup checks the chip's ids, lets periph configure it, and waits for the
// first conversion.
func (s *Sensor) setup(ctx context.Context) error {
	d := s.dev.Dev()
	var b [2]byte
	if err := d.Tx([]byte{regManufacturer}, b[:]); err != nil {
		return s.dev.Err("init", err)
	}
	s.dev.OK()
	manuf := uint16(b[0])<<8 | uint16(b[1])
	if err := d.Tx([]byte{regDeviceID}, b[:]); err != nil {
		return s.dev.Err("init", err)
	}
	if manuf != manufacturerID || b[0] != deviceID {
		return s.dev.Err("init", fmt.Errorf("not an MCP9808: manufacturer id 0x%04x (want 0x%04x), device id 0x%02x (want 0x%02x); is the address right?", manuf, manufacturerID, b[0], deviceID))
	}
	// periph's device writes the resolution; the driver reads the
	// temperature register itself (see notConverted), so it is not kept.
	if _, err := mcp9808.New(d.Bus, &s.opts); err != nil {
		return s.dev.Err("init", err)
	}
	if err := sensors.Sleep(ctx, s.conv); err != nil {
		return s.dev.Err("init: waiting for the first conversion", err)
	}
	return nil
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
