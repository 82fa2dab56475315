package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

// Fake hardware drivers for the board checks: their options say which bus
// and pins they use, as the real drivers' do.

type boardBusOptions struct {
	Bus string `toml:"bus"`
}

func (o *boardBusOptions) BusName() string { return o.Bus }

type boardPinOptions struct {
	Pin string `toml:"pin"`
}

func (o *boardPinOptions) PinNames() []string { return []string{o.Pin} }

type boardPinsOptions struct {
	Pins []string `toml:"pins"`
}

func (o *boardPinsOptions) PinNames() []string { return o.Pins }

func init() {
	sensors.Register(sensors.Driver{Name: "boardtest-i2c", Doc: "board test I2C chip"},
		func() boardBusOptions { return boardBusOptions{Bus: "1"} },
		func(string, *boardBusOptions) (sensors.Sensor, error) { return cfgFakeSensor{}, nil })
	sensors.Register(sensors.Driver{Name: "boardtest-gpio", Doc: "board test GPIO input"},
		func() boardPinOptions { return boardPinOptions{Pin: "GPIO17"} },
		func(string, *boardPinOptions) (sensors.Sensor, error) { return cfgFakeSensor{}, nil })
	sensors.Register(sensors.Driver{Name: "boardtest-pins", Doc: "board test multi-pin"},
		nil, func(string, *boardPinsOptions) (sensors.Sensor, error) { return cfgFakeSensor{}, nil })
}

// withSystemRoot points device detection at a fixture tree for one test.
func withSystemRoot(t *testing.T, files map[string]string) {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := systemRoot
	systemRoot = root
	t.Cleanup(func() { systemRoot = old })
}

const boardSensors = `
[[sensor]]
name = "battery"
driver = "boardtest-i2c"

[[sensor]]
name = "pump"
driver = "boardtest-gpio"
pin = "GPIO41"

[[sensor]]
name = "door"
driver = "boardtest-pins"
pins = ["GPIO5", "GPIO3"]
`

func TestConfigBoardErrors(t *testing.T) {
	_, err := ParseConfig("b.toml", []byte("[device]\nid = \"x\"\nboard = \"rpi4\"\n"+oneSensor))
	list, ok := config.AsErrors(err)
	if !ok || len(list) != 1 {
		t.Fatalf("unknown board: %v", err)
	}
	if e := list[0]; e.Key != "device.board" || e.Line != 3 ||
		!strings.Contains(e.Msg, `unknown board "rpi4" (did you mean "rpi4b"?): use one of auto, rpizero2w, rpizerow, rpi3b, cm4, rpi4b, rpi5, generic-arm, sim`) {
		t.Errorf("unknown board: %v", e)
	}

	// A forced board checks every sensor against it, at the sensor's key.
	_, err = ParseConfig("b.toml", []byte("[device]\nid = \"x\"\nboard = \"rpi4b\"\n"+boardSensors))
	list, _ = config.AsErrors(err)
	want := []string{
		`b.toml:12:1: sensor[1].pin: board rpi4b has no pin "GPIO41" (header GPIOs: GPIO2…GPIO27)`,
		`b.toml:17:18: sensor[2].pins[1]: GPIO3 is SCL of I2C bus "1", which sensor "battery" uses: pick another GPIO`,
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Bus "2" left at a sensor's default is blamed on its table.
	src := "[device]\nid = \"x\"\nboard = \"rpi3b\"\n[[sensor]]\nname = \"b\"\ndriver = \"boardtest-i2c\"\nbus = \"SPI3.0\"\n"
	_, err = ParseConfig("b.toml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `b.toml:7:1: sensor[0].bus: board rpi3b has no SPI port "SPI3.0"`) {
		t.Errorf("rpi3b SPI3: %v", err)
	}
}

func TestConfigBoardAuto(t *testing.T) {
	// No device tree (the fixture root of every agent test): board sim,
	// hardware sensors load with warnings, so a site's config can be
	// checked on a laptop.
	c, err := ParseConfig("b.toml", []byte("[device]\nid = \"x\"\n"+boardSensors))
	if err != nil {
		t.Fatalf("on the sim board: %v", err)
	}
	if c.Device.Board != "auto" || c.Board.Name != "sim" {
		t.Errorf("board %q resolved to %q", c.Device.Board, c.Board.Name)
	}
	if len(c.Warnings) != 3 || !strings.HasPrefix(c.Warnings[0], `b.toml:4:1: sensor[0].bus: board sim has no buses or pins: sensor "battery" (boardtest-i2c) uses I2C bus "1"`) ||
		!strings.HasPrefix(c.Warnings[1], `b.toml:11:1: sensor[1].pin: board sim has no buses or pins`) ||
		!strings.Contains(c.Warnings[2], `sensor[2].pins[0]: board sim has no buses or pins: sensor "door" (boardtest-pins) uses pins "GPIO5", "GPIO3" and cannot be read here`) {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}

	// On a Pi 4, auto detects it and the same file fails.
	withSystemRoot(t, map[string]string{
		"proc/device-tree/model":         "Raspberry Pi 4 Model B Rev 1.5\x00",
		"proc/device-tree/serial-number": "10000000c0ffee42\x00",
	})
	_, err = ParseConfig("b.toml", []byte(boardSensors))
	list, _ := config.AsErrors(err)
	if len(list) != 2 || list[0].Key != "sensor[1].pin" || list[1].Key != "sensor[2].pins[1]" {
		t.Errorf("detected rpi4b: %v", err)
	}
	src := strings.Replace(boardSensors, `"GPIO41"`, `"GPIO27"`, 1)
	src = strings.Replace(src, `"GPIO3"]`, `"P1_13"]`, 1)
	src = strings.Replace(src, `"GPIO5"`, `"GPIO6"`, 1)
	c, err = ParseConfig("b.toml", []byte(src))
	if err == nil {
		err = errorsIfAny(c.Warnings)
	}
	// P1_13 is GPIO27, which the pump already has.
	if err == nil || !strings.Contains(err.Error(), `sensor[2].pins[1]: GPIO27 is also used by sensor "pump"`) {
		t.Errorf("P1_13: %v", err)
	}
	src = strings.Replace(src, `"P1_13"]`, `"P1_15"]`, 1)
	c, err = ParseConfig("b.toml", []byte(src))
	if err != nil || len(c.Warnings) != 0 || c.Board.Name != "rpi4b" || c.Board.Model != "Raspberry Pi 4 Model B Rev 1.5" {
		t.Fatalf("valid wiring on rpi4b: %v %q %+v", err, c.Warnings, c.Board.Name)
	}
	if c.Device.ID != "karana-0000c0ffee42" {
		t.Errorf("device id from the board serial: %q", c.Device.ID)
	}
}

func errorsIfAny(warnings []string) error {
	if len(warnings) == 0 {
		return nil
	}
	return &config.Error{Msg: strings.Join(warnings, "\n")}
}

func TestConfigBoardRoundTrip(t *testing.T) {
	src := "[device]\nid = \"x\"\nboard = \"rpi5\"\n" + strings.Replace(boardSensors, `"GPIO41"`, `"GPIO26"`, 1)
	src = strings.Replace(src, `"GPIO3"]`, `"GPIO4"]`, 1)
	c, err := ParseConfig("rt.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\nboard = \"rpi5\"\n") {
		t.Errorf("effective config lacks the board:\n%s", out.String())
	}
	back, err := ParseConfig("rt.toml", out.Bytes())
	if err != nil {
		t.Fatalf("does not load back: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(c, back) {
		t.Errorf("round trip differs:\n%+v\n%+v", c, back)
	}
	// The default is written too, so check shows what was detected against.
	c, err = ParseConfig("rt.toml", []byte(oneSensor))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	c.WriteTOML(&out)
	if !strings.Contains(out.String(), "\nboard = \"auto\"\n") {
		t.Errorf("effective config lacks board = \"auto\":\n%s", out.String())
	}
}
