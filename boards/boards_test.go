package boards

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// writeTree writes files (path relative to root → content) under a new
// temporary root.
func writeTree(t *testing.T, files map[string]string) string {
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

func TestDetect(t *testing.T) {
	if got := Detect(t.TempDir()); got.Name != "sim" || !reflect.DeepEqual(got, Sim) {
		t.Errorf("no device tree: got %+v, want sim", got)
	}
	// Model strings as real boards' firmware writes them, NUL-terminated.
	for model, want := range map[string]string{
		"Raspberry Pi Zero W Rev 1.1":            "rpizerow",
		"Raspberry Pi Zero 2 W Rev 1.0":          "rpizero2w",
		"Raspberry Pi 3 Model B Rev 1.2":         "rpi3b",
		"Raspberry Pi 3 Model B Plus Rev 1.3":    "rpi3b",
		"Raspberry Pi 4 Model B Rev 1.4":         "rpi4b",
		"Raspberry Pi 4 Model B Rev 1.5":         "rpi4b",
		"Raspberry Pi 5 Model B Rev 1.0":         "rpi5",
		"Raspberry Pi Compute Module 4 Rev 1.0":  "cm4",
		"Raspberry Pi Compute Module 4 Rev 1.1":  "cm4",
		"Radxa ROCK 3 Model A":                   "generic-arm",
		"Raspberry Pi 2 Model B Rev 1.1":         "generic-arm",
		"Xunlong Orange Pi Zero":                 "generic-arm",
		"Raspberry Pi Compute Module 3 Plus Rev": "generic-arm",
	} {
		root := writeTree(t, map[string]string{"proc/device-tree/model": model + "\x00"})
		got, serial := Identify(root)
		if got.Name != want {
			t.Errorf("%q: got %q, want %q", model, got.Name, want)
		}
		if got.Model != model {
			t.Errorf("%q: model not the machine's, or not trimmed: %q", model, got.Model)
		}
		if serial != "" {
			t.Errorf("%q: serial %q without a serial-number file", model, serial)
		}
		if Detect(root).Name != want {
			t.Errorf("%q: Detect differs from Identify", model)
		}
	}
}

func TestIdentifySerial(t *testing.T) {
	root := writeTree(t, map[string]string{
		"proc/device-tree/model":         "Raspberry Pi 4 Model B Rev 1.5\x00",
		"proc/device-tree/serial-number": "10000000c0ffee42\x00",
	})
	p, serial := Identify(root)
	if p.Name != "rpi4b" || serial != "10000000c0ffee42" {
		t.Errorf("got %q serial %q", p.Name, serial)
	}
	// systemd's ProcSubset=pid hides /proc/device-tree; the firmware tree in
	// /sys has the same files.
	root = writeTree(t, map[string]string{
		"sys/firmware/devicetree/base/model":         "Raspberry Pi 5 Model B Rev 1.0\x00",
		"sys/firmware/devicetree/base/serial-number": "e4a1b2c3d4e5f607\x00",
	})
	p, serial = Identify(root)
	if p.Name != "rpi5" || serial != "e4a1b2c3d4e5f607" {
		t.Errorf("sysfs tree: got %q serial %q", p.Name, serial)
	}
	// An empty model file is no device tree worth the name.
	root = writeTree(t, map[string]string{"proc/device-tree/model": "\x00"})
	if p := Detect(root); p.Name != "sim" {
		t.Errorf("empty model: %q", p.Name)
	}
}

func TestLookupAndNames(t *testing.T) {
	names := Names()
	want := []string{"rpizero2w", "rpizerow", "rpi3b", "cm4", "rpi4b", "rpi5", "generic-arm", "sim"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("Names = %q, want %q", names, want)
	}
	for _, n := range names {
		p, ok := Lookup(n)
		if !ok || p.Name != n || p.Model == "" {
			t.Errorf("Lookup(%q) = %+v, %v", n, p, ok)
		}
		if n != "sim" && len(p.Groups) == 0 {
			t.Errorf("%s: no groups", n)
		}
		if strings.HasPrefix(n, "rpi") || n == "cm4" {
			if p.ConfigFile != "/boot/firmware/config.txt" || len(p.Header) != 40 || p.AnyBus || p.AnyPin {
				t.Errorf("%s: config %q, %d header pins, any bus %v, any pin %v", n, p.ConfigFile, len(p.Header), p.AnyBus, p.AnyPin)
			}
			if !slices.Equal(p.Groups, []string{"i2c", "spi", "gpio"}) {
				t.Errorf("%s: groups %q", n, p.Groups)
			}
			b, ok := p.Bus("1")
			if !ok || b.Enable != "dtparam=i2c_arm=on" || b.Dev != "/dev/i2c-1" {
				t.Errorf("%s: I2C bus 1 = %+v, %v", n, b, ok)
			}
			if b, ok := p.Bus("0"); !ok || !strings.Contains(b.Reserved, "EEPROM") {
				t.Errorf("%s: I2C bus 0 must be reserved for the HAT EEPROM: %+v", n, b)
			}
			if b, ok := p.Bus("SPI0.1"); !ok || b.Enable != "dtparam=spi=on" {
				t.Errorf("%s: SPI0.1 = %+v", n, b)
			}
			if b, ok := p.Bus("w1"); !ok || b.Enable != "dtoverlay=w1-gpio,gpiopin=4" {
				t.Errorf("%s: w1 = %+v", n, b)
			}
		}
	}
	if _, ok := Lookup("rpi9"); ok {
		t.Error("Lookup(rpi9) found a board")
	}
	// Callers cannot change the table through a profile they got.
	p, _ := Lookup("rpi4b")
	p.Buses[0].Name = "x"
	p.Header[0].Name = "x"
	if q, _ := Lookup("rpi4b"); q.Buses[0].Name != "1" || q.Header[0].Name != "3V3" {
		t.Error("Lookup returned the table's own slices")
	}
	p5, _ := Lookup("rpi5")
	if !strings.Contains(strings.Join(p5.Notes, " "), "no /dev/gpiomem") || !strings.Contains(strings.Join(p5.Notes, " "), "root") {
		t.Errorf("rpi5 notes lack the RP1 caveats: %q", p5.Notes)
	}
	if _, ok := p5.Bus("3"); ok {
		t.Error("rpi5 has no BCM2711 I2C 3")
	}
	if p4, _ := Lookup("rpi4b"); !hasBus(p4, "6") || !hasBus(p4, "SPI6.1") || hasBus(p4, "SPI2.0") {
		t.Error("rpi4b: want I2C 3–6 and SPI3–6 by overlay, no SPI2")
	}
	cm4, _ := Lookup("cm4")
	if !strings.Contains(strings.Join(cm4.Notes, " "), "carrier") {
		t.Errorf("cm4 notes lack the carrier caveat: %q", cm4.Notes)
	}
}

func hasBus(p Profile, name string) bool { _, ok := p.Bus(name); return ok }

// TestHeader checks the 40-pin map against the published pinout, pin by
// pin where it matters, and its invariants everywhere.
func TestHeader(t *testing.T) {
	p, _ := Lookup("rpi3b")
	byPin := map[int]HeaderPin{}
	gpios := map[string]int{}
	for i, h := range p.Header {
		if h.Pin != i+1 {
			t.Fatalf("header[%d] is pin %d", i, h.Pin)
		}
		byPin[h.Pin] = h
		if h.IsGPIO() {
			if prev, dup := gpios[h.Name]; dup {
				t.Errorf("%s on pins %d and %d", h.Name, prev, h.Pin)
			}
			gpios[h.Name] = h.Pin
		}
	}
	if len(gpios) != 28 {
		t.Errorf("%d GPIOs on the header, want 28 (GPIO0–GPIO27)", len(gpios))
	}
	power := map[string][]int{}
	for _, h := range p.Header {
		if !h.IsGPIO() {
			power[h.Name] = append(power[h.Name], h.Pin)
		}
	}
	wantPower := map[string][]int{
		"3V3": {1, 17},
		"5V":  {2, 4},
		"GND": {6, 9, 14, 20, 25, 30, 34, 39},
	}
	if !reflect.DeepEqual(power, wantPower) {
		t.Errorf("power pins = %v, want %v", power, wantPower)
	}
	for pin, want := range map[int]string{
		3: "GPIO2 SDA1", 5: "GPIO3 SCL1", 7: "GPIO4", 8: "GPIO14 TXD0", 10: "GPIO15 RXD0",
		11: "GPIO17", 12: "GPIO18", 13: "GPIO27", 15: "GPIO22", 16: "GPIO23", 18: "GPIO24",
		19: "GPIO10 SPI0 MOSI", 21: "GPIO9 SPI0 MISO", 22: "GPIO25", 23: "GPIO11 SPI0 SCLK",
		24: "GPIO8 SPI0 CE0", 26: "GPIO7 SPI0 CE1", 27: "GPIO0 ID_SD", 28: "GPIO1 ID_SC",
		29: "GPIO5", 31: "GPIO6", 32: "GPIO12 PWM0", 33: "GPIO13 PWM1", 35: "GPIO19 SPI1 MISO",
		36: "GPIO16 SPI1 CE2", 37: "GPIO26", 38: "GPIO20 SPI1 MOSI", 40: "GPIO21 SPI1 SCLK",
	} {
		name, fn, _ := strings.Cut(want, " ")
		h := byPin[pin]
		if h.Name != name || !strings.Contains(h.Func, fn) {
			t.Errorf("pin %d = %s (%s), want %s", pin, h.Name, h.Func, want)
		}
	}
	// Every bus pin of the Pi profiles sits on the header.
	for _, n := range []string{"rpizerow", "rpi4b", "rpi5", "cm4"} {
		p, _ := Lookup(n)
		for _, b := range p.Buses {
			for _, bp := range b.Pins {
				if _, ok := gpios[bp.GPIO]; !ok {
					t.Errorf("%s: bus %s pin %s is not on the header", n, b.Name, bp.GPIO)
				}
			}
		}
	}
	if got := p.HeaderGPIOs(); got[0] != "GPIO0" || got[27] != "GPIO27" || len(got) != 28 {
		t.Errorf("HeaderGPIOs = %q", got)
	}
	if h, ok := p.HeaderPinOf("GPIO17"); !ok || h.Pin != 11 {
		t.Errorf("HeaderPinOf(GPIO17) = %+v", h)
	}
}

func TestParseBus(t *testing.T) {
	for in, want := range map[string]string{
		"1": "I2C 1", "I2C1": "I2C 1", "i2c-1": "I2C 1", "/dev/i2c-1": "I2C 1", "01": "I2C 1", "0": "I2C 0", " 3 ": "I2C 3",
		"SPI0.1": "SPI SPI0.1", "spi0.0": "SPI SPI0.0", "/dev/spidev1.2": "SPI SPI1.2", "spidev0.1": "SPI SPI0.1",
		"w1": "1-Wire w1", "1-Wire": "1-Wire w1",
		"": "", "SPI0": "", "SPI0.": "", "SPIa.b": "", "i2c": "", "bus1": "", "-1": "", "1.5": "", "99999": "",
	} {
		kind, canon, ok := ParseBus(in)
		got := ""
		if ok {
			got = string(kind) + " " + canon
		}
		if got != want {
			t.Errorf("ParseBus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePin(t *testing.T) {
	p, _ := Lookup("rpi4b")
	for in, want := range map[string]string{
		"GPIO17": "GPIO17 11", "gpio17": "GPIO17 11", "17": "GPIO17 11", "GPIO04": "GPIO4 7",
		"P1_11": "GPIO17 11 physical", "p1_6": "GND 6 physical", "P1_41": " 0 physical", "P1_x": " 0 physical",
		"GPIO41": "GPIO41 0", "PA7": " 0", "": " 0",
	} {
		name, h, physical := p.ParsePin(in)
		got := name + " " + strconv.Itoa(h.Pin)
		if physical {
			got += " physical"
		}
		if got != want {
			t.Errorf("ParsePin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnableLines(t *testing.T) {
	p, _ := Lookup("rpi3b")
	got := p.EnableLines("1", "SPI0.0", "SPI0.1", "I2C1", "SPI1.1", "w1", "SPI7.0")
	want := []string{"dtparam=i2c_arm=on", "dtparam=spi=on", "dtoverlay=spi1-2cs", "dtoverlay=w1-gpio,gpiopin=4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnableLines = %q, want %q", got, want)
	}
	// spi1-2cs claims CE0 and CE1: SPI1.1 takes GPIO18 and GPIO17.
	b, _ := p.Bus("SPI1.1")
	var pins []string
	for _, bp := range b.Pins {
		pins = append(pins, bp.GPIO)
	}
	if !reflect.DeepEqual(pins, []string{"GPIO18", "GPIO17", "GPIO19", "GPIO20", "GPIO21"}) {
		t.Errorf("SPI1.1 pins = %q", pins)
	}
}

func TestDevices(t *testing.T) {
	if got := Devices(t.TempDir()); !reflect.DeepEqual(got, Present{}) {
		t.Errorf("empty root: %+v", got)
	}
	root := writeTree(t, map[string]string{
		"dev/i2c-1": "", "dev/i2c-20": "", "dev/i2c-2": "", "dev/i2c-x": "",
		"dev/spidev0.1": "", "dev/spidev0.0": "", "dev/spidev10.0": "", "dev/spidev1.0": "",
		"dev/gpiochip10": "", "dev/gpiochip0": "", "dev/gpiochip4": "",
		"sys/bus/w1/devices/28-000005e2fdc3/w1_slave": "",
	})
	got := Devices(root)
	want := Present{
		I2C:       []string{"1", "2", "20"},
		SPI:       []string{"SPI0.0", "SPI0.1", "SPI1.0", "SPI10.0"},
		GPIOChips: []string{"gpiochip0", "gpiochip4", "gpiochip10"},
		OneWire:   true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Devices = %+v, want %+v", got, want)
	}
	for bus, want := range map[string]bool{"1": true, "I2C1": true, "0": false, "SPI0.1": true, "SPI1.1": false, "w1": true, "junk": false} {
		if got.Has(bus) != want {
			t.Errorf("Has(%q) = %v", bus, !want)
		}
	}
}
