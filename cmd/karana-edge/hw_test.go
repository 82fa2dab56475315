package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

// A fake I2C chip driver: its options name a bus, as the real drivers'
// do, and its reads fail as a chip that is not there.

type hwtestOptions struct {
	Bus  string `toml:"bus"`
	Fail string `toml:"fail"` // "not-fitted", "timeout" or "" (reads 1.5 V)
}

func (o *hwtestOptions) BusName() string { return o.Bus }

type hwtestSensor struct{ o *hwtestOptions }

func (s hwtestSensor) Read(ctx context.Context) ([]sensors.Value, error) {
	switch s.o.Fail {
	case "not-fitted":
		return nil, fmt.Errorf("hwtest on i2c bus %s addr 0x40: no answer: %w", s.o.Bus, sensors.ErrNotFitted)
	case "timeout":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return []sensors.Value{{Field: "voltage", Value: 1.5, Unit: "V"}, {Field: "current", Value: 0.0125, Unit: "A"}}, nil
}

func (hwtestSensor) Close() error { return nil }

func init() {
	sensors.Register(sensors.Driver{
		Name:     "hwtest",
		Doc:      "CLI test I2C chip",
		I2CAddrs: []uint16{0x40, 0x41},
	}, func() hwtestOptions { return hwtestOptions{Bus: "1"} },
		func(_ string, o *hwtestOptions) (sensors.Sensor, error) { return hwtestSensor{o}, nil })
}

// fixture builds a machine root: files (relative path → content).
func fixture(t *testing.T, files map[string]string) string {
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
	return root
}

// withHWRoot points the verbs at a fixture machine for one test.
func withHWRoot(t *testing.T, root string) {
	t.Helper()
	old := hwRoot
	hwRoot = root
	t.Cleanup(func() { hwRoot = old })
}

func pi4(extra map[string]string) map[string]string {
	files := map[string]string{
		"proc/device-tree/model":         "Raspberry Pi 4 Model B Rev 1.5\x00",
		"proc/device-tree/serial-number": "10000000c0ffee42\x00",
		"dev/gpiochip0":                  "",
		"dev/gpiochip1":                  "",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[device]\nid = \"test-box\"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func TestBoardDetected(t *testing.T) {
	withHWRoot(t, fixture(t, pi4(map[string]string{"dev/i2c-1": "", "dev/i2c-20": ""})))
	code, out, errs := runArgs("board")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "board", out,
		"board   rpi4b: Raspberry Pi 4 Model B Rev 1.5 (detected from /proc/device-tree/model)\n",
		"serial  10000000c0ffee42\n",
		"config  /boot/firmware/config.txt\n",
		"groups  i2c, spi, gpio",
		"gpio    gpiochip0, gpiochip1\n",
		`I2C     "1"       /dev/i2c-1           present  SDA GPIO2 (pin 3), SCL GPIO3 (pin 5)`,
		`SPI     "SPI0.1"  /dev/spidev0.1       absent   CE1 GPIO7 (pin 26), MISO GPIO9 (pin 21), MOSI GPIO10 (pin 19), SCLK GPIO11 (pin 23); enable: dtparam=spi=on`,
		`I2C     "20"      /dev/i2c-20          present  not on the header`,
		"also by overlay (absent): I2C 3, 4, 5, 6; SPI3.0",
		"            SDA1   GPIO2  3 | 4  5V\n",
		"           ID_SD   GPIO0 27 | 28 GPIO1   ID_SC\n",
		"                     GND 39 | 40 GPIO21  SPI1 SCLK\n",
		"to enable what is missing, add to /boot/firmware/config.txt and reboot:\n  dtparam=spi=on\n\nnotes",
	)
	if strings.Contains(out, "dtparam=i2c_arm=on\n") {
		t.Errorf("I2C 1 is present, yet its enable line is suggested:\n%s", out)
	}
	if n := strings.Count(out, " | "); n != 20 {
		t.Errorf("header has %d rows, want 20", n)
	}
}

func TestBoardSimAndConfigured(t *testing.T) {
	withHWRoot(t, t.TempDir())
	code, out, _ := runArgs("board")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	wantAll(t, "sim board", out, "board  sim: simulated board (no device tree)\n", "header: none (simulated board)", "gpio   none")

	// With -config, the configured board and only the buses the sensors
	// use are suggested.
	path := writeConfig(t, "board = \"rpi3b\"\n[[sensor]]\nname = \"battery\"\ndriver = \"hwtest\"\n")
	code, out, errs := runArgs("board", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "configured board", out,
		"board   rpi3b: Raspberry Pi 3 Model B / B+ ([device] board in "+path+"; this machine is sim)",
		"add to /boot/firmware/config.txt and reboot:\n  dtparam=i2c_arm=on\n\n")
	if strings.Contains(out, "\n  dtparam=spi=on\n") {
		t.Errorf("no sensor uses SPI, yet it is suggested:\n%s", out)
	}
	code, out, _ = runArgs("check", "-config", path)
	wantAll(t, "check", out, "\n# board rpi3b (Raspberry Pi 3 Model B / B+, set in [device] board): sensors' buses and pins are checked against it\n")
	if code, _, errs := runArgs("board", "extra"); code != exitConfig || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("extra argument: exit %d, %q", code, errs)
	}
}

func TestScanWithoutBus(t *testing.T) {
	// This machine, CI, a laptop: no bus, a clear message, exit 1.
	withHWRoot(t, t.TempDir())
	code, out, errs := runArgs("scan")
	if code != exitFailure || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if want := "no I2C bus \"1\" on this machine: is I2C enabled? add dtparam=i2c_arm=on to /boot/firmware/config.txt and reboot"; !strings.HasPrefix(errs, want) {
		t.Errorf("stderr %q, want it to start with %q", errs, want)
	}
	// On a Pi, the profile says how; other buses present are listed.
	withHWRoot(t, fixture(t, pi4(map[string]string{"dev/i2c-20": ""})))
	_, _, errs = runArgs("scan", "-bus", "I2C3")
	if want := "no I2C bus \"3\" on this machine: is I2C enabled? add dtoverlay=i2c3 to /boot/firmware/config.txt and reboot (buses present: 20)\n"; errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	_, _, errs = runArgs("scan", "-bus", "0")
	wantAll(t, "bus 0", errs, `bus "0" is reserved: it is ID_SD/ID_SC`)
	if code, _, errs := runArgs("scan", "-bus", "SPI0.0"); code != exitConfig || !strings.Contains(errs, `"SPI0.0" is not an I2C bus`) {
		t.Errorf("SPI bus: exit %d, %q", code, errs)
	}
}

// fakeBus answers a one-byte read at the addresses in answer.
type fakeBus struct {
	answer []uint16
	tries  int
	closed bool
}

func (b *fakeBus) Tx(addr uint16, w, r []byte) error {
	b.tries++
	if slices.Contains(b.answer, addr) && len(w) == 0 && len(r) == 1 {
		return nil
	}
	return errors.New("sysfs-i2c: remote I/O error")
}
func (b *fakeBus) SetSpeed(physic.Frequency) error { return errors.New("not on a Pi") }
func (b *fakeBus) String() string                  { return "fake" }
func (b *fakeBus) Close() error                    { b.closed = true; return nil }

func withFakeBus(t *testing.T, bus *fakeBus) *[]string {
	t.Helper()
	var opened []string
	old := openI2C
	openI2C = func(name string) (i2c.BusCloser, error) { opened = append(opened, name); return bus, nil }
	t.Cleanup(func() { openI2C = old })
	return &opened
}

func TestScanFakeBus(t *testing.T) {
	withHWRoot(t, fixture(t, pi4(map[string]string{"dev/i2c-1": ""})))
	bus := &fakeBus{answer: []uint16{0x27, 0x40}}
	opened := withFakeBus(t, bus)
	code, out, errs := runArgs("scan")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !slices.Equal(*opened, []string{"1"}) || !bus.closed || bus.tries != 0x77-0x03+1 {
		t.Errorf("opened %q, closed %v, %d probes", *opened, bus.closed, bus.tries)
	}
	wantAll(t, "scan", out,
		"I2C bus 1: 2 chips answered",
		"20: -- -- -- -- -- -- -- 27 -- -- -- -- -- -- -- --\n",
		"40: 40 -- -- -- -- -- -- -- -- -- -- -- -- -- -- --\n",
		"70: -- -- -- -- -- -- -- --\n",
		"0x27  no driver knows this address")
	// The registry names every driver whose chip can sit at 0x40, the
	// test's own among them.
	if i := strings.Index(out, "0x40  "); i < 0 || !strings.Contains(out[i:strings.IndexByte(out[i:], '\n')+i], "hwtest") {
		t.Errorf("0x40 does not name the hwtest driver:\n%s", out)
	}
}

func TestScanOnALaptopNeedsBus(t *testing.T) {
	// No device tree but a /dev/i2c-1: a PC's SMBus. Scan only when asked.
	withHWRoot(t, fixture(t, map[string]string{"dev/i2c-1": ""}))
	bus := &fakeBus{}
	opened := withFakeBus(t, bus)
	code, _, errs := runArgs("scan")
	if code != exitFailure || len(*opened) != 0 || !strings.Contains(errs, "run karana-edge scan -bus 1 to scan it anyway") {
		t.Errorf("exit %d, opened %q: %s", code, *opened, errs)
	}
	code, out, _ := runArgs("scan", "-bus", "1")
	if code != exitOK || len(*opened) != 1 || !strings.Contains(out, "no chip answered: check the wiring, the pull-ups") {
		t.Errorf("explicit -bus: exit %d, opened %q:\n%s", code, *opened, out)
	}
}

func TestRenderScan(t *testing.T) {
	likely := func(a uint16) []string {
		return map[uint16][]string{0x48: {"ads1015", "ads1115"}, 0x76: {"bme280", "bmp280"}}[a]
	}
	var b bytes.Buffer
	renderScan(&b, "1", []uint16{0x03, 0x48, 0x76, 0x77}, likely, "")
	want := `I2C bus 1: 4 chips answered (0x03–0x77 probed with a one-byte read, like i2cdetect -r)
      0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f
00:          03 -- -- -- -- -- -- -- -- -- -- -- --
10: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --
20: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --
30: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --
40: -- -- -- -- -- -- -- -- 48 -- -- -- -- -- -- --
50: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --
60: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- --
70: -- -- -- -- -- -- 76 77

0x03  no driver knows this address (driver i2c-register reads any chip's registers)
0x48  ads1015, ads1115
0x76  bme280, bmp280
0x77  no driver knows this address (driver i2c-register reads any chip's registers)
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	renderScan(&b, "1", nil, likely, "SDA GPIO2 (pin 3), SCL GPIO3 (pin 5), 3V3 and GND")
	wantAll(t, "empty scan", b.String(), "I2C bus 1: 0 chips answered",
		"no chip answered: check the wiring (SDA GPIO2 (pin 3), SCL GPIO3 (pin 5), 3V3 and GND), the pull-ups")
}

func TestReadSim(t *testing.T) {
	withHWRoot(t, t.TempDir())
	path := writeConfig(t, `
[[sensor]]
name = "pv"
driver = "sim"
unit = "W"
amplitude = 5000
[[sensor]]
name = "tank"
driver = "sim"
field = "level"
unit = "%"
[[sensor]]
name = "spare"
driver = "sim"
disabled = true
`)
	code, out, errs := runArgs("read", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "read", out, "pv (sim): read in ", "tank (sim): read in ", " W\n", " %\n", "  pv.value  ", "  tank.level  ")
	if strings.Contains(out, "spare") {
		t.Errorf("a disabled sensor was read without being named:\n%s", out)
	}
	// Named: in the order given, disabled ones too (commissioning).
	code, out, _ = runArgs("read", "-config", path, "spare", "tank")
	if code != exitOK || strings.Index(out, "spare (sim) [disabled in the config: read anyway]") != 0 || !strings.Contains(out, "tank.level") || strings.Contains(out, "pv.value") {
		t.Errorf("named read: exit %d:\n%s", code, out)
	}
	// An unknown name: exit 2 before anything is read.
	code, out, errs = runArgs("read", "-config", path, "tank", "pump")
	if code != exitConfig || out != "" || !strings.Contains(errs, `karana-edge read: no sensor "pump" in `+path+` (sensors: pv, tank, spare)`) {
		t.Errorf("unknown sensor: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestReadHardwareHints(t *testing.T) {
	withHWRoot(t, t.TempDir())
	path := writeConfig(t, `board = "rpi4b"
[[sensor]]
name = "battery"
driver = "hwtest"
fail = "not-fitted"
[[sensor]]
name = "good"
driver = "hwtest"
bus = "SPI0.0"
`)
	code, out, errs := runArgs("read", "-config", path)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1 for a failed read:\n%s\n%s", code, out, errs)
	}
	wantAll(t, "stderr", errs,
		"battery: sensor battery (hwtest): read: hwtest on i2c bus 1 addr 0x40: no answer: not fitted\n",
		"  check: this machine has no I2C \"1\": add dtparam=i2c_arm=on to /boot/firmware/config.txt and reboot\n")
	// The healthy sensor is still read and shown, with its units.
	wantAll(t, "stdout", out, "good (hwtest, SPI SPI0.0): read in ", "  good.voltage     1.5 V\n", "  good.current  0.0125 A\n")
}

func TestHardwareHint(t *testing.T) {
	p4, _ := boards.Lookup("rpi4b")
	present := boards.Present{I2C: []string{"1"}, GPIOChips: []string{"gpiochip0"}}
	sc := sensors.Config{Name: "battery", Driver: "hwtest", Options: &hwtestOptions{Bus: "1"}, Timeout: config.D(2 * time.Second)}
	notFitted := fmt.Errorf("read: %w", sensors.ErrNotFitted)

	got := hardwareHint(sc, notFitted, p4, present)
	want := []string{
		`I2C "1" is present: is the sensor wired (SDA GPIO2 (pin 3), SCL GPIO3 (pin 5)) and powered?`,
		"is the address right? karana-edge scan -bus 1 lists the chips that answer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("present bus:\n%q\nwant\n%q", got, want)
	}
	got = hardwareHint(sc, fmt.Errorf("read: %w", context.DeadlineExceeded), p4, present)
	if len(got) != 1 || !strings.Contains(got[0], "longer than its timeout (2s)") {
		t.Errorf("timeout: %q", got)
	}
	if got := hardwareHint(sc, errors.New("crc mismatch"), p4, present); len(got) != 0 {
		t.Errorf("a chip error the driver explains needs no generic hint: %q", got)
	}
	sc.Options = &pinOnly{pins: []string{"GPIO17"}}
	got = hardwareHint(sc, notFitted, p4, present)
	if len(got) != 1 || !strings.Contains(got[0], "is it wired to GPIO17 (header pin 11)?") {
		t.Errorf("pin sensor: %q", got)
	}
	sc.Options = nil
	if got := hardwareHint(sc, notFitted, p4, present); len(got) != 1 || !strings.Contains(got[0], "karana-edge board") {
		t.Errorf("no bus, no pin: %q", got)
	}
}

type pinOnly struct{ pins []string }

func (p *pinOnly) PinNames() []string { return p.pins }

func TestFormatValueAndTook(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1.5: "1.5", 9123905.667: "9123905.667", -0.001: "-0.001", 1e-7: "1e-07", 2e15: "2e+15"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
	for d, want := range map[time.Duration]string{85123 * time.Nanosecond: "85µs", 12345678 * time.Nanosecond: "12.3ms", 1234567890 * time.Nanosecond: "1.23s"} {
		if got := formatTook(d); got != want {
			t.Errorf("formatTook(%v) = %q, want %q", d, got, want)
		}
	}
}
