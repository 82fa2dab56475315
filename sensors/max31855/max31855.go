package max31855

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"periph.io/x/conn/v3/spi"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/spibus"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "max31855",
		Doc:  "Maxim MAX31855 thermocouple converter (SPI): temperature and internal, °C; faults as errors",
	}, DefaultOptions, New)
}

// maxSpeed is the chip's SCK limit.
const maxSpeed = 5_000_000

// Options are the max31855 driver's keys, inline in its [[sensor]] table:
// bus (default "SPI0.0") and speed_hz (default 1 MHz, at most 5 MHz).
type Options struct {
	spibus.Options
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{spibus.Options{Bus: spibus.DefaultBus, SpeedHz: 1_000_000}}
}

// Frame is one decoded 32-bit frame.
type Frame struct {
	Thermocouple float64 // °C
	Internal     float64 // °C
	Fault        bool    // D16
	SCV, SCG, OC bool    // D2, D1, D0
	Reserved     bool    // D17 or D3 set: not a frame the chip sends
}

// Decode decodes a frame read MSB first.
func Decode(b [4]byte) Frame {
	v := binary.BigEndian.Uint32(b[:])
	return Frame{
		Thermocouple: float64(int32(v)>>18) * 0.25,
		Internal:     float64(int32(v<<16)>>20) * 0.0625,
		Fault:        v&(1<<16) != 0,
		SCV:          v&(1<<2) != 0,
		SCG:          v&(1<<1) != 0,
		OC:           v&1 != 0,
		Reserved:     v&(1<<17|1<<3) != 0,
	}
}

// Faults names the fault bits set, "" when none.
func (f Frame) Faults() string {
	var out []string
	if f.OC {
		out = append(out, "thermocouple open circuit (OC)")
	}
	if f.SCG {
		out = append(out, "thermocouple shorted to GND (SCG)")
	}
	if f.SCV {
		out = append(out, "thermocouple shorted to VCC (SCV)")
	}
	if len(out) == 0 && f.Fault {
		out = append(out, "fault bit set without a cause")
	}
	return strings.Join(out, ", ")
}

// Sensor is one MAX31855.
type Sensor struct {
	o   Options
	dev spibus.Device
}

// New validates opts and returns the sensor; it does not open the bus.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	o.Options.Validate(&errs, "MAX31855", maxSpeed, "")
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{o: o, dev: spibus.Device{Driver: "max31855", Port: o.Bus, SpeedHz: o.SpeedHz}}, nil
}

// Read reads one frame.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.read)
}

func (s *Sensor) read(_ context.Context, conn spi.Conn) ([]sensors.Value, error) {
	var b [4]byte
	if err := conn.Tx(make([]byte, 4), b[:]); err != nil {
		return nil, s.dev.Err("", err)
	}
	f := Decode(b)
	switch {
	case b == [4]byte{}:
		// MISO held low. The chip sends it only with both junctions
		// within one step of 0 °C at once: taken for a stuck line.
		return nil, s.dev.Err("", fmt.Errorf("all-zero frame: MISO held low (no chip, no power, or a broken wire): check the wiring, the chip select (%s) and power", s.o.Bus))
	case f.Reserved:
		return nil, s.dev.Err("", fmt.Errorf("no chip answering (read % x, reserved bits set): check the wiring, the chip select (%s) and power", b, s.o.Bus))
	case f.Fault || f.OC || f.SCG || f.SCV:
		return nil, s.dev.Err("", fmt.Errorf("%s (cold junction %.4g °C)", f.Faults(), f.Internal))
	}
	return []sensors.Value{
		{Field: "temperature", Value: f.Thermocouple, Unit: "°C"},
		{Field: "internal", Value: f.Internal, Unit: "°C"},
	}, nil
}

// Close releases the SPI port; the next read opens it again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
