package bme280

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
		I2CAddrs: Addrs,
	}, DefaultOptions, func(name string, o *Options) (*Sensor, error) { return New(name, BME280, o) })
	sensors.Register(sensors.Driver{
		Name:     BMP280,
		Doc:      "Bosch BMP280 over I2C: temperature (°C), pressure (hPa)",
		I2CAddrs: Addrs,
	}, DefaultBMP280Options, func(name string, o *BMP280Options) (*Sensor, error) {
		return New(name, BMP280, &Options{BMP280Options: *o})
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

// oversampling maps the option's value to the register code
// (osrs_t, osrs_p, osrs_h: 0 skipped, 1 ×1 … 5 ×16).
var oversampling = map[int]byte{0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}

// Registers and values (datasheet section 5.3).
const (
	regCalibTP  = 0x88 // 26 bytes: T1-T3, P1-P9, reserved, H1
	regChipID   = 0xD0
	regCalibH   = 0xE1 // 7 bytes: H2-H6
	regCtrlHum  = 0xF2
	regStatus   = 0xF3
	regCtrlMeas = 0xF4
	regConfig   = 0xF5
	regData     = 0xF7 // press, temp (20 bits each), hum (16 bits)

	idBME280      = 0x60
	idBMP280      = 0x58 // 0x56 and 0x57 are BMP280 samples (the kernel takes them)
	idBMP180      = 0x55
	modeForced    = 1
	statusMeasure = 1 << 3
	// configStandby1s: standby 1 s, filter off (forced mode ignores the
	// standby time; periph wrote the same).
	configStandby1s = 5 << 5
	// statusPolls more reads of status, statusGap apart, allow for a chip
	// slower than its datasheet's maximum.
	statusPolls = 20
	statusGap   = time.Millisecond
)

// Sensor is one BME280 or BMP280.
type Sensor struct {
	model    string // BME280 or BMP280: the driver it was configured as
	o        Options
	ctrlMeas byte          // osrs_t, osrs_p, mode sleep
	ctrlHum  byte          // osrs_h
	meas     time.Duration // the longest one forced measurement takes

	dev   i2cbus.Device
	isBME bool // the chip found has humidity
	cal   calibration
	// sleep waits; tests replace it to see when the driver waits.
	sleep func(context.Context, time.Duration) error
}

// New validates opts for driver model (BME280 or BMP280) and returns the
// sensor; it does no I/O. A BMP280 has no humidity_oversampling: it is
// ignored. Errors are config.FieldErrors keyed by option name.
func New(_, model string, opts *Options) (*Sensor, error) {
	o := *opts
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
		model:    model,
		o:        o,
		ctrlMeas: oversampling[o.TemperatureOversampling]<<5 | oversampling[o.PressureOversampling]<<2,
		ctrlHum:  oversampling[o.HumidityOversampling],
		meas:     measureTime(o.TemperatureOversampling, o.PressureOversampling, o.HumidityOversampling),
		dev:      i2cbus.Device{Driver: model, Bus: o.Bus, Addr: uint16(o.Address)},
		sleep:    sensors.Sleep,
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

// Read measures once (forced mode), setting the chip up on the first read
// after the bus was opened.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, s.setup, s.read)
}

// read runs under the device's lock, with the chip set up.
func (s *Sensor) read(ctx context.Context, _ bool) ([]sensors.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.dev.Err("read", err)
	}
	raw, err := s.measure(ctx)
	if err != nil {
		return nil, err
	}
	s.dev.OK()
	return s.compensate(raw)
}

// setup checks the chip id, reads the calibration and writes the
// configuration, in the order periph's bmxx80 did.
func (s *Sensor) setup(context.Context) error {
	d := s.dev.Dev()
	var id [1]byte
	if err := d.Tx([]byte{regChipID}, id[:]); err != nil {
		return s.dev.Err("init", err)
	}
	s.dev.OK()
	switch id[0] {
	case idBME280:
		s.isBME = true
	case idBMP280, 0x56, 0x57:
		if s.model == BME280 {
			return s.dev.Err("init", fmt.Errorf("the chip is a BMP280 (chip id 0x%02x), which has no humidity sensor: use driver = %q", id[0], BMP280))
		}
		s.isBME = false
	case idBMP180:
		return s.dev.Err("init", errors.New("the chip is a BMP180 (chip id 0x55), which this driver does not read"))
	default:
		return s.dev.Err("init", fmt.Errorf("unexpected chip id 0x%02x (want 0x60 BME280 or 0x58 BMP280): is the address right?", id[0]))
	}
	tp := make([]byte, 26)
	if err := d.Tx([]byte{regCalibTP}, tp); err != nil {
		return s.dev.Err("init", err)
	}
	var h []byte
	if s.isBME {
		h = make([]byte, 7)
		if err := d.Tx([]byte{regCalibH}, h); err != nil {
			return s.dev.Err("init", err)
		}
	}
	cal := parseCalibration(tp, h)
	if err := cal.check(); err != nil {
		return s.dev.Err("init", err)
	}
	// ctrl_meas first in sleep mode (a chip left in normal mode ignores
	// config), and again last: ctrl_hum takes effect on that write.
	w := []byte{regCtrlMeas, s.ctrlMeas, regCtrlHum, s.ctrlHum, regConfig, configStandby1s, regCtrlMeas, s.ctrlMeas}
	if !s.isBME {
		w = append(w[:2], w[4:]...)
	}
	if err := d.Tx(w, nil); err != nil {
		return s.dev.Err("init", err)
	}
	s.cal = cal
	return nil
}

// measure starts one forced measurement, waits its maximum time and until
// status says it is done, and reads all results in one burst so they
// belong to the same measurement (datasheet section 4).
func (s *Sensor) measure(ctx context.Context) ([]byte, error) {
	d := s.dev.Dev()
	if err := d.Tx([]byte{regCtrlMeas, s.ctrlMeas | modeForced}, nil); err != nil {
		return nil, s.dev.Err("read", err)
	}
	s.dev.OK()
	if err := s.sleep(ctx, s.meas); err != nil {
		return nil, s.dev.Err("read", err)
	}
	var st [1]byte
	for i := 0; ; i++ {
		if err := d.Tx([]byte{regStatus}, st[:]); err != nil {
			return nil, s.dev.Err("read", err)
		}
		if st[0]&statusMeasure == 0 {
			break
		}
		if i == statusPolls {
			return nil, s.dev.Err("read", fmt.Errorf("still measuring (status 0x%02x) %s after the start", st[0], s.meas+statusPolls*statusGap))
		}
		if err := s.sleep(ctx, statusGap); err != nil {
			return nil, s.dev.Err("read", err)
		}
	}
	raw := make([]byte, 8)
	if !s.isBME {
		raw = raw[:6]
	}
	if err := d.Tx([]byte{regData}, raw); err != nil {
		return nil, s.dev.Err("read", err)
	}
	return raw, nil
}

// compensate turns one burst into values.
func (s *Sensor) compensate(raw []byte) ([]sensors.Value, error) {
	if stuck(raw) {
		return nil, s.dev.Err("read", fmt.Errorf("burst reads % x: the bus is stuck (SDA held low reads zeros, a chip that let go of it reads 0xff), not a measurement", raw))
	}
	adcP := int32(raw[0])<<12 | int32(raw[1])<<4 | int32(raw[2])>>4
	adcT := int32(raw[3])<<12 | int32(raw[4])<<4 | int32(raw[5])>>4
	if adcT == skipped20 {
		return nil, s.dev.Err("read", fmt.Errorf("temperature skipped (raw 0x80000): the chip did not measure (burst % x)", raw))
	}
	t, tFine := s.cal.temperature(adcT)
	// 0.01 °C: one division gives the float64 nearest the decimal.
	vals := []sensors.Value{{Field: "temperature", Value: float64(t) / 100, Unit: "°C"}}
	if s.o.PressureOversampling != 0 {
		if adcP == skipped20 {
			return nil, s.dev.Err("read", fmt.Errorf("pressure skipped (raw 0x80000) though pressure_oversampling is %d (burst % x)", s.o.PressureOversampling, raw))
		}
		p, err := s.cal.pressure(adcP, tFine)
		if err != nil {
			return nil, s.dev.Err("read", err)
		}
		// Q24.8 Pa to hPa, rounded to 0.01 Pa.
		vals = append(vals, sensors.Value{Field: "pressure", Value: i2cbus.Round(float64(p)/25600, 4), Unit: "hPa"})
	}
	if s.isBME && s.o.HumidityOversampling != 0 {
		adcH := int32(raw[6])<<8 | int32(raw[7])
		if adcH == skipped16 {
			// ctrl_hum is lost when the chip resets; set it up again.
			s.dev.Reset()
			return nil, s.dev.Err("read", fmt.Errorf("humidity skipped (raw 0x8000) though humidity_oversampling is %d: the chip was reset (a brown-out?) and is set up again on the next read", s.o.HumidityOversampling))
		}
		h := s.cal.humidity(adcH, tFine)
		// Q22.10 %RH, rounded to 0.001 %RH.
		vals = append(vals, sensors.Value{Field: "humidity", Value: i2cbus.Round(float64(h)/1024, 3), Unit: "%RH"})
	}
	return vals, nil
}

// stuck reports a burst of one repeated 0x00 or 0xFF: raw temperature 0
// or 0xFFFFF is far outside the chip's -40…85 °C (−140.88 °C and
// 187.55 °C with the datasheet example's trimming).
func stuck(raw []byte) bool {
	for _, b := range raw {
		if b != raw[0] {
			return false
		}
	}
	return raw[0] == 0x00 || raw[0] == 0xFF
}

// Close releases the bus; the next Read opens it and sets the chip up again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
