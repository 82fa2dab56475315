package sht3x

import (
	"context"
	"fmt"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// Name is the driver's registered name.
const Name = "sht3x"

// Addrs are the two addresses the ADDR pin selects.
var Addrs = []uint16{0x44, 0x45}

func init() {
	sensors.Register(sensors.Driver{
		Name:     Name,
		Doc:      "Sensirion SHT3x over I2C: temperature (°C), humidity (%RH), CRC checked",
		I2CAddrs: Addrs,
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// Repeatability is "high", "medium" or "low": lower is quicker and
	// noisier. Default "high".
	Repeatability string `toml:"repeatability"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Options:       i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x44},
		Repeatability: "high",
	}
}

// measure is each repeatability's single-shot command (clock stretching
// disabled) and its maximum duration (datasheet table 4).
var measure = map[string]struct {
	cmd uint16
	dur time.Duration
}{
	"high":   {0x2400, 15 * time.Millisecond},
	"medium": {0x240B, 6 * time.Millisecond},
	"low":    {0x2416, 4 * time.Millisecond},
}

// Commands and timings.
const (
	cmdSoftReset   = 0x30A2
	cmdReadStatus  = 0xF32D
	cmdClearStatus = 0x3041
	resetTime      = 1500 * time.Microsecond
	// commandGap: the datasheet asks for 1 ms between a command and the
	// next, when the first has no time of its own.
	commandGap = time.Millisecond
	// A read NACKed because the measurement is not done is retried this
	// many times, retryGap apart.
	readRetries = 3
	retryGap    = 2 * time.Millisecond
)

// Sensor is one SHT3x.
type Sensor struct {
	o   Options
	cmd []byte
	dur time.Duration

	dev i2cbus.Device
}

// New validates opts and returns the sensor; it does no I/O. Errors are
// config.FieldErrors keyed by option.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	o.Options.Validate(&errs, "SHT3x", Addrs, "0x44 with ADDR low, 0x45 with ADDR high")
	m, ok := measure[o.Repeatability]
	if !ok {
		errs.Add("repeatability", "invalid repeatability %q: use high, medium or low", o.Repeatability)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{
		o:   o,
		cmd: []byte{byte(m.cmd >> 8), byte(m.cmd)},
		dur: m.dur,
		dev: i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)},
	}, nil
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read measures once.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context, _ bool) ([]sensors.Value, error) {
	d := s.dev.Dev()
	if err := d.Tx(s.cmd, nil); err != nil {
		return nil, s.dev.Err("measure", err)
	}
	s.dev.OK()
	if err := sensors.Sleep(ctx, s.dur); err != nil {
		return nil, s.dev.Err("measure", err)
	}
	var b [6]byte
	var err error
	for try := 0; ; try++ {
		err = d.Tx(nil, b[:])
		if err == nil || !i2cbus.IsNoAnswer(err) || try == readRetries {
			break
		}
		// Still measuring: the sensor NACKs its read header.
		if err := sensors.Sleep(ctx, retryGap); err != nil {
			return nil, s.dev.Err("read", err)
		}
	}
	if err != nil {
		return nil, s.dev.Err("read", err)
	}
	s.dev.Recovered()
	if err := checkCRC(b[0:3], "temperature"); err != nil {
		return nil, s.dev.Err("read", err)
	}
	if err := checkCRC(b[3:6], "humidity"); err != nil {
		return nil, s.dev.Err("read", err)
	}
	st := float64(uint16(b[0])<<8 | uint16(b[1]))
	srh := float64(uint16(b[3])<<8 | uint16(b[4]))
	return []sensors.Value{
		{Field: "temperature", Value: i2cbus.Round(-45+175*st/65535, 2), Unit: "°C"},
		{Field: "humidity", Value: i2cbus.Round(100*srh/65535, 2), Unit: "%RH"},
	}, nil
}

// setup soft-resets the sensor, checks that its status register comes with
// a valid CRC (it is an SHT3x) and clears it.
func (s *Sensor) setup(ctx context.Context) error {
	d := s.dev.Dev()
	if err := d.Tx(command(cmdSoftReset), nil); err != nil {
		return s.dev.Err("init: soft reset", err)
	}
	s.dev.OK()
	if err := sensors.Sleep(ctx, resetTime); err != nil {
		return s.dev.Err("init", err)
	}
	var st [3]byte
	if err := d.Tx(command(cmdReadStatus), st[:]); err != nil {
		return s.dev.Err("init: read status", err)
	}
	if err := checkCRC(st[:], "status"); err != nil {
		return s.dev.Err("init", fmt.Errorf("%w: is the chip at this address an SHT3x?", err))
	}
	if err := d.Tx(command(cmdClearStatus), nil); err != nil {
		return s.dev.Err("init: clear status", err)
	}
	if err := sensors.Sleep(ctx, commandGap); err != nil {
		return s.dev.Err("init", err)
	}
	return nil
}

func command(c uint16) []byte { return []byte{byte(c >> 8), byte(c)} }

// checkCRC checks a 2-byte word followed by its CRC.
func checkCRC(b []byte, what string) error {
	if got := CRC8(b[:2]); got != b[2] {
		return fmt.Errorf("%s CRC mismatch: data 0x%02x%02x has CRC 0x%02x, received 0x%02x (noise on the bus? check cable length and pull-ups)", what, b[0], b[1], got, b[2])
	}
	return nil
}

// CRC8 is Sensirion's checksum: polynomial 0x31, initial value 0xFF, no
// reflection, no final XOR. CRC8([]byte{0xBE, 0xEF}) is 0x92.
func CRC8(data []byte) byte {
	crc := byte(0xFF)
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Close releases the bus; the next Read opens it and resets the sensor.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
