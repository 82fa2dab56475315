package max31855

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "max31855",
		Doc:  "Maxim MAX31855 thermocouple converter (SPI): temperature and internal, °C; faults as errors",
	}, DefaultOptions, New)
}

// maxSpeed is the chip's SCK limit.
const maxSpeed = 5_000_000

// Options are the max31855 driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Bus is the SPI port, e.g. "SPI0.1" (bus 0, CE1). Default "SPI0.0".
	Bus string `toml:"bus"`
	// SpeedHz is the SPI clock; at most 5 MHz. Default 1 MHz.
	SpeedHz int64 `toml:"speed_hz"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Bus: "SPI0.0", SpeedHz: 1_000_000} }

// BusName implements sensors.BusUser.
func (o *Options) BusName() string { return o.Bus }

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
	name string
	o    Options

	mu   sync.Mutex
	port spi.PortCloser
	conn spi.Conn
}

// New validates opts and returns the sensor; it does not open the bus.
func New(name string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	if o.Bus == "" {
		errs.Add("bus", `must be set, e.g. "SPI0.1"`)
	}
	if o.SpeedHz < 10_000 || o.SpeedHz > maxSpeed {
		errs.Add("speed_hz", "must be between 10000 and 5000000 (the MAX31855's maximum), got %d", o.SpeedHz)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{name: name, o: o}, nil
}

func (s *Sensor) where() string { return fmt.Sprintf("max31855 %s on %s", s.name, s.o.Bus) }

// Read reads one frame.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		p, err := hw.OpenSPI(s.o.Bus)
		if err != nil {
			return nil, fmt.Errorf("max31855 %s: %w", s.name, err)
		}
		c, err := p.Connect(physic.Frequency(s.o.SpeedHz)*physic.Hertz, spi.Mode0, 8)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("%s: connect at %d Hz, mode 0: %w", s.where(), s.o.SpeedHz, err)
		}
		s.port, s.conn = p, c
	}
	var b [4]byte
	if err := s.conn.Tx(make([]byte, 4), b[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(), err)
	}
	f := Decode(b)
	switch {
	case b == [4]byte{}:
		// MISO held low. The chip sends it only with both junctions
		// within one step of 0 °C at once: taken for a stuck line.
		return nil, fmt.Errorf("%s: all-zero frame: MISO held low (no chip, no power, or a broken wire): check the wiring, the chip select (%s) and power", s.where(), s.o.Bus)
	case f.Reserved:
		return nil, fmt.Errorf("%s: no chip answering (read % x, reserved bits set): check the wiring, the chip select (%s) and power", s.where(), b, s.o.Bus)
	case f.Fault || f.OC || f.SCG || f.SCV:
		return nil, fmt.Errorf("%s: %s (cold junction %.4g °C)", s.where(), f.Faults(), f.Internal)
	}
	return []sensors.Value{
		{Field: "temperature", Value: f.Thermocouple, Unit: "°C"},
		{Field: "internal", Value: f.Internal, Unit: "°C"},
	}, nil
}

// Close releases the SPI port; the next read opens it again.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.port == nil {
		return nil
	}
	err := s.port.Close()
	s.port, s.conn = nil, nil
	if err != nil {
		return fmt.Errorf("%s: close: %w", s.where(), err)
	}
	return nil
}
