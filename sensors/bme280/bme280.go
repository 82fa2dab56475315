package bme280

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// Driver names.
const (
	BME280 = "bme280"
	BMP280 = "bmp280"
)

// Addrs are the addresses both chips can take (SDO low, SDO high).
var Addrs = []uint16{0x76, 0x77}

func init() {
	sensors.Register(sensors.Driver{
		Name:     BME280,
		Doc:      "Bosch BME280 over I2C: temperature (°C), pressure (hPa), humidity (%RH)",
		Options:  func() any { o := DefaultOptions(); return &o },
		New:      func(name string, opts any) (sensors.Sensor, error) { return New(name, BME280, opts) },
		I2CAddrs: Addrs,
	})
	sensors.Register(sensors.Driver{
		Name:     BMP280,
		Doc:      "Bosch BMP280 over I2C: temperature (°C), pressure (hPa)",
		Options:  func() any { o := DefaultBMP280Options(); return &o },
		New:      func(name string, opts any) (sensors.Sensor, error) { return New(name, BMP280, opts) },
		I2CAddrs: Addrs,
	})
}

// BMP280Options are the keys of driver "bmp280", inline in its [[sensor]]
// table.
type BMP280Options struct {
	i2cbus.Options
	// TemperatureOversampling is 1, 2, 4, 8 or 16; temperature cannot be
	// off (pressure and humidity are compensated with it). Default 1.
	TemperatureOversampling int `toml:"temperature_oversampling"`
	// PressureOversampling is 0 (off), 1, 2, 4, 8 or 16. Default 1.
	PressureOversampling int `toml:"pressure_oversampling"`
}

// Options are the keys of driver "bme280".
type Options struct {
	BMP280Options
	// HumidityOversampling is 0 (off), 1, 2, 4, 8 or 16. Default 1.
	HumidityOversampling int `toml:"humidity_oversampling"`
}

// DefaultBMP280Options returns the documented defaults of "bmp280": the
// datasheet's weather-monitoring setting.
func DefaultBMP280Options() BMP280Options {
	return BMP280Options{
		Options:                 i2cbus.Options{Bus: i2cbus.DefaultBus, Address: 0x76},
		TemperatureOversampling: 1,
		PressureOversampling:    1,
	}
}

// DefaultOptions returns the documented defaults of "bme280".
func DefaultOptions() Options {
	return Options{BMP280Options: DefaultBMP280Options(), HumidityOversampling: 1}
}

// oversampling maps the option's value to periph's setting.
var oversampling = map[int]bmxx80.Oversampling{
	0: bmxx80.Off, 1: bmxx80.O1x, 2: bmxx80.O2x, 4: bmxx80.O4x, 8: bmxx80.O8x, 16: bmxx80.O16x,
}

// Sensor is one BME280 or BMP280.
type Sensor struct {
	name  string
	model string // BME280 or BMP280: the driver it was configured as
	o     Options
	opts  bmxx80.Opts

	mu    sync.Mutex
	dev   i2cbus.Device
	chip  *bmxx80.Dev
	isBME bool // the chip found has humidity
}

// New validates opts for driver model (BME280 or BMP280) and returns the
// sensor; it does no I/O. opts is *Options or *BMP280Options (nil for the
// defaults). Errors are config.FieldErrors keyed by option name.
func New(name, model string, opts any) (*Sensor, error) {
	var o Options
	switch v := opts.(type) {
	case nil:
		o = DefaultOptions()
		if model == BMP280 {
			o.HumidityOversampling = 0
		}
	case *Options:
		o = DefaultOptions()
		if v != nil {
			o = *v
		}
	case *BMP280Options:
		o = DefaultOptions()
		if v != nil {
			o = Options{BMP280Options: *v}
		}
	default:
		return nil, fmt.Errorf("%s %s: options of type %T, want *bme280.Options or *bme280.BMP280Options", model, name, opts)
	}
	if model != BME280 && model != BMP280 {
		return nil, fmt.Errorf("bme280: unknown model %q", model)
	}
	if model == BMP280 {
		o.HumidityOversampling = 0 // no such key; and a BME280 read as BMP280 skips it
	}
	if err := o.validate(model); err != nil {
		return nil, err
	}
	s := &Sensor{
		name:  name,
		model: model,
		o:     o,
		opts: bmxx80.Opts{
			Temperature: oversampling[o.TemperatureOversampling],
			Pressure:    oversampling[o.PressureOversampling],
			Humidity:    oversampling[o.HumidityOversampling],
		},
		dev: i2cbus.Device{Driver: model, Bus: o.Bus, Addr: uint16(o.Address)},
	}
	return s, nil
}

func (o *Options) validate(model string) error {
	var errs config.FieldErrors
	o.Options.Validate(&errs, strings.ToUpper(model), Addrs, "0x76 with SDO to GND, 0x77 with SDO to VDDIO")
	check := func(key string, v int, offOK bool) {
		if _, ok := oversampling[v]; !ok || (v == 0 && !offOK) {
			use := "1, 2, 4, 8 or 16"
			if offOK {
				use = "0 (off), " + use
			}
			errs.Add(key, "invalid oversampling %d: use %s", v, use)
		}
	}
	check("temperature_oversampling", o.TemperatureOversampling, false)
	check("pressure_oversampling", o.PressureOversampling, true)
	if model == BME280 {
		check("humidity_oversampling", o.HumidityOversampling, true)
	}
	return errs.Err()
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read measures once (forced mode), constructing periph's device on the
// first read after the bus was opened.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, s.dev.Err("read", err)
	}
	bus, fresh, err := s.dev.Open()
	if err != nil {
		return nil, err
	}
	if fresh {
		s.chip = nil
	}
	if s.chip == nil {
		chip, err := bmxx80.NewI2C(bus, s.dev.Addr, &s.opts)
		if err != nil {
			return nil, s.dev.Err("init", err)
		}
		s.dev.OK()
		kind, _, _ := strings.Cut(chip.String(), "{")
		switch {
		case kind == "BME280":
			s.isBME = true
		case kind == "BMP280" && s.model == BMP280:
			s.isBME = false
		case kind == "BMP280":
			return nil, s.dev.Err("init", fmt.Errorf("the chip is a BMP280 (chip id 0x58), which has no humidity sensor: use driver = %q", BMP280))
		default:
			return nil, s.dev.Err("init", fmt.Errorf("the chip is a %s, which this driver does not read", kind))
		}
		s.chip = chip
	}
	if err := ctx.Err(); err != nil {
		return nil, s.dev.Err("read", err)
	}
	var e physic.Env
	if err := s.chip.Sense(&e); err != nil {
		return nil, s.dev.Err("read", err)
	}
	s.dev.OK()

	// physic units: temperature in nK, pressure in nPa, humidity in
	// 1e-5 %RH. The integers are exact; one division gives the float64
	// nearest the decimal.
	vals := []sensors.Value{{
		Field: "temperature",
		Value: float64(e.Temperature-physic.ZeroCelsius) / float64(physic.Celsius),
		Unit:  "°C",
	}}
	if s.opts.Pressure != bmxx80.Off {
		vals = append(vals, sensors.Value{
			Field: "pressure",
			Value: i2cbus.Round(float64(e.Pressure)/float64(100*physic.Pascal), 4),
			Unit:  "hPa",
		})
	}
	if s.isBME && s.opts.Humidity != bmxx80.Off {
		vals = append(vals, sensors.Value{
			Field: "humidity",
			Value: i2cbus.Round(float64(e.Humidity)/float64(physic.PercentRH), 3),
			Unit:  "%RH",
		})
	}
	return vals, nil
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chip = nil
	return s.dev.Close()
}
