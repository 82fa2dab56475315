package agent

import (
	"context"
	"errors"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// Drivers and formats the config tests need. The real sim driver and json
// formatter are written elsewhere; "sim" and "json" are registered here only
// when the test binary does not already link them (imported packages run
// their init before this one), so the example config loads either way.

type cfgFakeSensor struct{}

func (cfgFakeSensor) Read(context.Context) ([]sensors.Value, error) { return nil, nil }
func (cfgFakeSensor) Close() error                                  { return nil }

// testdrvOptions is a generator driver's options.
type testdrvOptions struct {
	Waveform  string  `toml:"waveform"`
	Amplitude float64 `toml:"amplitude"`
}

// testi2cOptions gives the tests a key ("address") that is valid for one
// driver and not another.
type testi2cOptions struct {
	Bus     string `toml:"bus"`
	Address int    `toml:"address"`
}

// cfgFakeSimOptions mirrors the options the example config documents for "sim".
type cfgFakeSimOptions struct {
	Waveform   string          `toml:"waveform"`
	Amplitude  float64         `toml:"amplitude"`
	Offset     float64         `toml:"offset"`
	Period     config.Duration `toml:"period"`
	Noise      float64         `toml:"noise"`
	Resolution float64         `toml:"resolution"`
	Seed       int64           `toml:"seed"`
	Unit       string          `toml:"unit"`
	Field      string          `toml:"field"`
	FailEvery  int             `toml:"fail_every"`
	Delay      config.Duration `toml:"delay"`
}

type cfgFakeFormat struct{}

func (cfgFakeFormat) Format(*format.Batch) ([]byte, error) { return []byte("{}"), nil }
func (cfgFakeFormat) ContentType() string                  { return "application/json" }

func init() {
	// Derive device ids from a fixture, never from the machine running the
	// tests. (An init, not TestMain, so other tests of the package can have one.)
	systemRoot = "testdata/root"

	sensors.Register(sensors.Driver{
		Name: "testdrv",
		Doc:  "config test generator",
	}, func() testdrvOptions { return testdrvOptions{Waveform: "sine", Amplitude: 1} },
		func(name string, o *testdrvOptions) (sensors.Sensor, error) {
			var errs config.FieldErrors
			if o.Waveform != "sine" && o.Waveform != "ramp" {
				errs.Add("waveform", "unknown waveform %q (use sine or ramp)", o.Waveform)
			}
			if o.Amplitude < 0 {
				errs.Add("amplitude", "must not be negative, got %g", o.Amplitude)
			}
			if err := errs.Err(); err != nil {
				return nil, err
			}
			if o.Amplitude > 1e6 {
				// A plain error: the loader can only point at the table.
				return nil, errors.New("testdrv: amplitude too large to simulate")
			}
			return cfgFakeSensor{}, nil
		})
	sensors.Register(sensors.Driver{
		Name: "testi2c",
		Doc:  "config test I2C chip",
	}, func() testi2cOptions { return testi2cOptions{Bus: "1", Address: 0x40} },
		func(string, *testi2cOptions) (sensors.Sensor, error) { return cfgFakeSensor{}, nil })
	if _, ok := sensors.Lookup("sim"); !ok {
		sensors.Register(sensors.Driver{
			Name: "sim",
			Doc:  "config test stand-in for the sim driver",
		}, func() cfgFakeSimOptions {
			return cfgFakeSimOptions{Waveform: "sine", Amplitude: 1, Field: "value"}
		}, func(name string, o *cfgFakeSimOptions) (sensors.Sensor, error) {
			switch o.Waveform {
			case "sine", "ramp", "counter", "random-walk", "solar":
				return cfgFakeSensor{}, nil
			}
			return nil, config.Errorf("waveform", "unknown waveform %q", o.Waveform)
		})
	}
	if _, ok := format.Lookup("json"); !ok {
		format.Register("json", cfgFakeFormat{})
	}
	format.Register("testfmt", cfgFakeFormat{})
}
