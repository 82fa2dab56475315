package mcp3xxx

import (
	"context"
	"fmt"
	"math"

	"periph.io/x/conn/v3/spi"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/spibus"
)

// Chip is one member of the family.
type Chip struct {
	Name     string
	Bits     uint  // resolution
	MaxSpeed int64 // Hz at VDD 5 V
	command  func(ch int, single bool) []byte
	result   func(r []byte) (code int, nullBit bool)
}

// MCP3008 is the 10-bit chip.
var MCP3008 = Chip{
	Name: "mcp3008", Bits: 10, MaxSpeed: 3_600_000,
	command: func(ch int, single bool) []byte {
		b := byte(ch&7) << 4
		if single {
			b |= 0x80
		}
		return []byte{0x01, b, 0x00}
	},
	result: func(r []byte) (int, bool) {
		return int(r[1]&0x03)<<8 | int(r[2]), r[1]&0x04 != 0
	},
}

// MCP3208 is the 12-bit chip.
var MCP3208 = Chip{
	Name: "mcp3208", Bits: 12, MaxSpeed: 2_000_000,
	command: func(ch int, single bool) []byte {
		b0 := byte(0x04) | byte(ch>>2&1)
		if single {
			b0 |= 0x02
		}
		return []byte{b0, byte(ch&3) << 6, 0x00}
	},
	result: func(r []byte) (int, bool) {
		return int(r[1]&0x0f)<<8 | int(r[2]), r[1]&0x10 != 0
	},
}

func init() {
	for _, c := range []Chip{MCP3008, MCP3208} {
		sensors.Register(sensors.Driver{
			Name: c.Name,
			Doc:  fmt.Sprintf("Microchip %s %d-bit 8-channel SPI ADC, in volts", c.Name, c.Bits),
		}, DefaultOptions, func(name string, o *Options) (*Sensor, error) { return New(c, name, o) })
	}
}

// Channel is one input read on every read.
type Channel struct {
	// Channel is the input (single-ended) or the pair code (differential),
	// 0 to 7.
	Channel int `toml:"channel"`
	// Name is the field. Default "ch<N>" ("diff<N>" when differential).
	Name string `toml:"name"`
	// Differential reads a pair; see the package doc. Default false.
	Differential bool `toml:"differential"`
}

// Options are the keys of an mcp3008/mcp3208 [[sensor]] table: bus
// (default "SPI0.0") and speed_hz (default 1 MHz) and those below.
type Options struct {
	spibus.Options
	// Channels to read. Default: all eight, single-ended, ch0 … ch7.
	Channels []Channel `toml:"channels"`
	// Vref is the voltage on VREF. Default 3.3.
	Vref float64 `toml:"vref"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Options: spibus.Options{Bus: spibus.DefaultBus, SpeedHz: 1_000_000}, Vref: 3.3}
}

// Sensor is one ADC.
type Sensor struct {
	chip Chip
	o    Options
	dev  spibus.Device
}

// New validates opts and returns the sensor; it does not open the bus.
// Defaulted channels and names are filled in opts, so that the effective
// config shows them.
func New(chip Chip, _ string, opts *Options) (*Sensor, error) {
	o := *opts
	if o.Channels == nil {
		for ch := range 8 {
			o.Channels = append(o.Channels, Channel{Channel: ch})
		}
	} else {
		o.Channels = append([]Channel(nil), o.Channels...)
	}
	var errs config.FieldErrors
	o.Options.Validate(&errs, chip.Name, chip.MaxSpeed, "at VDD 5 V")
	if len(o.Channels) == 0 {
		errs.Add("channels", "must list at least one channel (leave it out for all eight)")
	}
	names, inputs := map[string]bool{}, map[[2]int]bool{}
	for i := range o.Channels {
		c := &o.Channels[i]
		key := fmt.Sprintf("channels[%d]", i)
		if c.Channel < 0 || c.Channel > 7 {
			errs.Add(key+".channel", "must be 0 to 7, got %d", c.Channel)
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("ch%d", c.Channel)
			if c.Differential {
				c.Name = fmt.Sprintf("diff%d", c.Channel)
			}
		}
		if !reading.ValidName(c.Name) {
			errs.Add(key+".name", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.'", c.Name)
		}
		if names[c.Name] {
			errs.Add(key+".name", "field %q is used by two channels", c.Name)
		}
		names[c.Name] = true
		in := [2]int{c.Channel, 0}
		if c.Differential {
			in[1] = 1
		}
		if inputs[in] {
			errs.Add(key+".channel", "channel %d (differential %v) is listed twice", c.Channel, c.Differential)
		}
		inputs[in] = true
	}
	if !(o.Vref > 0 && o.Vref <= 5.5) {
		errs.Add("vref", "must be above 0 and at most 5.5 V (VDD), got %v", o.Vref)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	opts.Channels = o.Channels
	return &Sensor{chip: chip, o: o, dev: spibus.Device{Driver: chip.Name, Port: o.Bus, SpeedHz: o.SpeedHz}}, nil
}

// Read converts every configured channel, in volts.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.read)
}

func (s *Sensor) read(ctx context.Context, conn spi.Conn) ([]sensors.Value, error) {
	full := float64(int(1) << s.chip.Bits)
	vals := make([]sensors.Value, 0, len(s.o.Channels))
	r := make([]byte, 3)
	for _, c := range s.o.Channels {
		op := fmt.Sprintf("channel %d", c.Channel)
		if err := ctx.Err(); err != nil {
			return nil, s.dev.Err(op, err)
		}
		if err := conn.Tx(s.chip.command(c.Channel, !c.Differential), r); err != nil {
			return nil, s.dev.Err(op, err)
		}
		code, null := s.chip.result(r)
		if null {
			return nil, s.dev.Err(op, fmt.Errorf("no chip answering (null bit high, read % x): check the wiring, the chip select (%s) and power", r, s.o.Bus))
		}
		v := float64(code) * s.o.Vref / full
		vals = append(vals, sensors.Value{Field: c.Name, Value: roundTo(v, s.o.Vref/full), Unit: "V"})
	}
	return vals, nil
}

// roundTo keeps the digits one code step means, so 0.8056640625 is stored
// as 0.8057 (shorter in every payload) without losing resolution.
func roundTo(v, step float64) float64 {
	if step <= 0 {
		return v
	}
	digits := math.Ceil(-math.Log10(step)) + 1
	p := math.Pow(10, digits)
	return math.Round(v*p) / p
}

// Close releases the SPI port; the next read opens it again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
