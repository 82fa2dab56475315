package ads1x15

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ads1x15"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// Driver names.
const (
	ADS1115 = "ads1115"
	ADS1015 = "ads1015"
)

// Addrs are the four addresses the ADDR pin selects.
var Addrs = i2cbus.Range(0x48, 0x4b)

// dataRates are each chip's rates in samples/s (datasheet, config DR).
var dataRates = map[string][]int{
	ADS1115: {8, 16, 32, 64, 128, 250, 475, 860},
	ADS1015: {128, 250, 490, 920, 1600, 2400, 3300},
}

// defaultRate is each chip's power-on data rate.
var defaultRate = map[string]int{ADS1115: 128, ADS1015: 1600}

func init() {
	for _, model := range []string{ADS1115, ADS1015} {
		bits := "16-bit"
		if model == ADS1015 {
			bits = "12-bit"
		}
		sensors.Register(sensors.Driver{
			Name:     model,
			Doc:      fmt.Sprintf("TI %s %s ADC over I2C: single-ended or differential channels (V), per-channel gain", strings.ToUpper(model), bits),
			I2CAddrs: Addrs,
		}, func() Options { return DefaultOptions(model) }, func(name string, o *Options) (*Sensor, error) {
			return New(name, model, o)
		})
	}
}

// Options are the keys of drivers "ads1115" and "ads1015", inline in the
// [[sensor]] table.
type Options struct {
	i2cbus.Options
	// DataRate in samples/s: one of the chip's rates. Default 128 (ADS1115)
	// or 1600 (ADS1015), the power-on rates.
	DataRate int `toml:"data_rate"`
	// Channels to read, in order. Default: inputs 0–3 single-ended, gain 1.
	Channels []Channel `toml:"channels"`
}

// Channel is one conversion.
type Channel struct {
	// Input is "0"–"3" (single-ended) or "0-1", "0-3", "1-3", "2-3"
	// (differential).
	Input string `toml:"input"`
	// Field names the reading; default "ain<input>" with '-' as '_'.
	Field string `toml:"field"`
	// Gain is 2/3, 1, 2, 4, 8 or 16; 0 means the default, 1.
	Gain Gain `toml:"gain"`
}

// inputs maps the input option to periph's multiplexer setting.
var inputs = map[string]ads1x15.Channel{
	"0": ads1x15.Channel0, "1": ads1x15.Channel1, "2": ads1x15.Channel2, "3": ads1x15.Channel3,
	"0-1": ads1x15.Channel0Minus1, "0-3": ads1x15.Channel0Minus3,
	"1-3": ads1x15.Channel1Minus3, "2-3": ads1x15.Channel2Minus3,
}

const inputUse = `use "0"-"3" (single-ended) or "0-1", "0-3", "1-3", "2-3" (differential)`

// DefaultOptions returns the documented defaults for model.
func DefaultOptions(model string) Options {
	return Options{
		Options:  i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x48},
		DataRate: defaultRate[model],
	}
}

// defaultChannels are read when none are configured.
func defaultChannels() []Channel {
	return []Channel{{Input: "0"}, {Input: "1"}, {Input: "2"}, {Input: "3"}}
}

// Sensor is one ADS1115 or ADS1015.
type Sensor struct {
	model string
	o     Options
	chans []Channel // filled in: field and gain set

	dev  i2cbus.Device
	pins []ads1x15.PinADC // made by setup, for the bus then open
}

// New validates opts for model (ADS1115 or ADS1015) and returns the
// sensor; it does no I/O. Channels, fields and gains left out are filled
// in, in opts too, so that the effective configuration shows them. Errors
// are config.FieldErrors keyed by option name ("channels[1].gain").
func New(_, model string, opts *Options) (*Sensor, error) {
	if _, ok := dataRates[model]; !ok {
		return nil, fmt.Errorf("ads1x15: unknown model %q", model)
	}
	o := *opts
	chans := slices.Clone(o.Channels)
	if len(chans) == 0 {
		chans = defaultChannels()
	}
	for i := range chans {
		c := &chans[i]
		if c.Field == "" {
			c.Field = "ain" + strings.ReplaceAll(c.Input, "-", "_")
		}
		if c.Gain == 0 {
			c.Gain = Gain1
		}
	}
	if err := o.validate(model, chans); err != nil {
		return nil, err
	}
	opts.Channels = slices.Clone(chans) // the effective config shows the defaults filled in
	return &Sensor{
		model: model,
		o:     o,
		chans: chans,
		dev:   i2cbus.Device{Driver: model, Bus: o.Bus, Addr: uint16(o.Address)},
	}, nil
}

func (o *Options) validate(model string, chans []Channel) error {
	var errs config.FieldErrors
	o.Options.Validate(&errs, strings.ToUpper(model), Addrs, "ADDR to GND 0x48, VDD 0x49, SDA 0x4a, SCL 0x4b")
	if !slices.Contains(dataRates[model], o.DataRate) {
		rates := make([]string, len(dataRates[model]))
		for i, r := range dataRates[model] {
			rates[i] = strconv.Itoa(r)
		}
		errs.Add("data_rate", "the %s has no rate of %d samples/s: use %s", strings.ToUpper(model), o.DataRate, strings.Join(rates, ", "))
	}
	if len(chans) > 8 {
		errs.Add("channels", "at most 8 channels (4 single-ended and 4 differential inputs), got %d", len(chans))
	}
	seen := map[string]int{}
	for i, c := range chans {
		key := fmt.Sprintf("channels[%d]", i)
		if _, ok := inputs[c.Input]; !ok {
			errs.Add(key+".input", "invalid input %q: %s", c.Input, inputUse)
		}
		if !reading.ValidName(c.Field) {
			errs.Add(key+".field", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.', not starting or ending with a dot", c.Field)
		} else if j, dup := seen[c.Field]; dup {
			errs.Add(key+".field", "field %q is also channel %d's: give each channel its own field", c.Field, j)
		}
		seen[c.Field] = i
		if c.Gain.FullScaleMV() == 0 {
			errs.Add(key+".gain", "invalid gain %v: %s", float64(c.Gain), gainUse)
		}
	}
	return errs.Err()
}

// Options returns the sensor's options; Channels as configured.
func (s *Sensor) Options() Options { return s.o }

// Channels returns the channels read, with defaults filled in.
func (s *Sensor) Channels() []Channel { return slices.Clone(s.chans) }

// Read converts each channel once, in order, and returns the voltages.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context, _ bool) ([]sensors.Value, error) {
	vals := make([]sensors.Value, 0, len(s.chans))
	for i, p := range s.pins {
		c := s.chans[i]
		if err := ctx.Err(); err != nil {
			return nil, s.dev.Err("read "+c.Field, err)
		}
		smp, err := p.Read()
		if err != nil {
			return nil, s.dev.Err(fmt.Sprintf("read %s (input %s)", c.Field, c.Input), err)
		}
		s.dev.OK()
		// nV, exact: code × full scale / 2^15.
		vals = append(vals, sensors.Value{Field: c.Field, Value: float64(smp.V) / float64(physic.Volt), Unit: "V"})
	}
	return vals, nil
}

// setup makes periph's device and one pin per channel; no I/O (single-shot
// conversions carry their whole configuration).
func (s *Sensor) setup(context.Context) error {
	rb := &readyBus{Bus: s.dev.Dev().Bus, addr: s.dev.Addr, poll: time.Second / time.Duration(s.o.DataRate) / 4}
	opts := &ads1x15.Opts{I2cAddress: s.dev.Addr}
	var adc *ads1x15.Dev
	var err error
	if s.model == ADS1015 {
		adc, err = ads1x15.NewADS1015(rb, opts)
	} else {
		adc, err = ads1x15.NewADS1115(rb, opts)
	}
	if err != nil {
		return s.dev.Err("init", err)
	}
	pins := make([]ads1x15.PinADC, len(s.chans))
	for i, c := range s.chans {
		fs := physic.ElectricPotential(c.Gain.FullScaleMV()) * physic.MilliVolt
		rate := physic.Frequency(s.o.DataRate) * physic.Hertz
		// periph picks the smallest full scale at least fs (so exactly
		// fs) and, for BestQuality, the slowest rate at least rate.
		if pins[i], err = adc.PinForChannel(inputs[c.Input], fs, rate, ads1x15.BestQuality); err != nil {
			return s.dev.Err("init "+c.Field, err)
		}
	}
	s.pins = pins
	return nil
}

// Close releases the bus; the next Read opens it again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}

// Registers.
const (
	regConversion = 0x00
	regConfig     = 0x01
	// osIdle is the config register's OS bit when read: 1 = not converting.
	osIdle = 0x8000
	// maxPolls bounds the wait for a conversion periph thinks is done: with
	// polls a quarter conversion apart, the chip may run 2.5 times slow.
	maxPolls = 10
)

// errNotReady is a conversion that never ended.
var errNotReady = errors.New("conversion did not complete (config OS bit stayed 0)")

// readyBus is the bus periph's ads1x15 sees: before each read of the
// conversion register it polls the config register until the conversion
// is done, because periph only sleeps the nominal conversion time.
//
// The config register reads back what was written, OS aside, so each poll
// also checks the bus: a bus held high reads 0xFFFF (OS idle, conversion
// -1 code), one held low never idle.
type readyBus struct {
	i2c.Bus
	addr    uint16
	poll    time.Duration
	written uint16 // the last configuration written
}

func (b *readyBus) Tx(addr uint16, w, r []byte) error {
	if addr == b.addr && len(w) == 3 && w[0] == regConfig && len(r) == 0 {
		b.written = uint16(w[1])<<8 | uint16(w[2])
	}
	if addr == b.addr && len(w) == 1 && w[0] == regConversion && len(r) == 2 {
		if err := b.waitIdle(); err != nil {
			return err
		}
	}
	return b.Bus.Tx(addr, w, r)
}

func (b *readyBus) waitIdle() error {
	var c [2]byte
	for i := 1; ; i++ {
		if err := b.Bus.Tx(b.addr, []byte{regConfig}, c[:]); err != nil {
			return err
		}
		got := uint16(c[0])<<8 | uint16(c[1])
		if got&^osIdle != b.written&^osIdle {
			return fmt.Errorf("config register reads back 0x%04x, written 0x%04x: the bus is stuck (0xffff: SDA held high or let go; 0x0000: held low) or another chip answers", got, b.written)
		}
		if got&osIdle != 0 {
			return nil
		}
		if i == maxPolls {
			return errNotReady
		}
		time.Sleep(b.poll)
	}
}
