package boards

import (
	"fmt"
	"strings"
	"testing"
)

// findings renders Check's result one per line: "use.key[item] E|W: msg".
func findings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		sev := "E"
		if f.Warning {
			sev = "W"
		}
		fmt.Fprintf(&b, "%d.%s[%d] %s: %s\n", f.Use, f.Key, f.Item, sev, f.Msg)
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	rpi4, _ := Lookup("rpi4b")
	cases := []struct {
		name string
		uses []Use
		want []string // substrings, one per finding, in order
	}{
		{
			name: "all fine",
			uses: []Use{
				{Sensor: "battery", Driver: "ina219", Bus: "1"},
				{Sensor: "adc", Driver: "mcp3008", Bus: "SPI0.0"},
				{Sensor: "tc", Driver: "max31855", Bus: "SPI0.1"},
				{Sensor: "meter", Driver: "pulse", Pins: []string{"GPIO17"}},
				{Sensor: "rain", Driver: "pulse", Pins: []string{"P1_13"}}, // GPIO27
				{Sensor: "wind", Driver: "frequency", Pins: []string{"22"}},
				{Sensor: "tank", Driver: "ds18b20", Bus: "w1"},
				{Sensor: "extra", Driver: "bme280", Bus: "I2C3"},
				{Sensor: "cpu", Driver: "system"},
			},
		},
		{
			name: "pin the board does not have",
			uses: []Use{{}, {}, {Sensor: "pump", Driver: "gpio", Pins: []string{"GPIO41"}}},
			want: []string{`2.pin[0] E: board rpi4b has no pin "GPIO41" (header GPIOs: GPIO2…GPIO27)`},
		},
		{
			name: "I2C bus the board does not have",
			uses: []Use{{Sensor: "battery", Driver: "ina219", Bus: "2"}},
			want: []string{`0.bus[0] E: board rpi4b has no I2C bus "2" (I2C buses: "1", "3", "4", "5", "6"; reserved: "0")`},
		},
		{
			name: "SPI port the board does not have",
			uses: []Use{{Sensor: "adc", Driver: "mcp3008", Bus: "SPI2.0"}},
			want: []string{`0.bus[0] E: board rpi4b has no SPI port "SPI2.0" (SPI ports: "SPI0.0", "SPI0.1", "SPI1.0"`},
		},
		{
			name: "not a bus name",
			uses: []Use{{Sensor: "adc", Driver: "mcp3008", Bus: "SPI0"}},
			want: []string{`0.bus[0] E: "SPI0" is not a bus name: use an I2C bus number ("1"), an SPI port ("SPI0.0", "SPI0.1") or "w1"`},
		},
		{
			name: "HAT EEPROM bus and pins are warnings",
			uses: []Use{
				{Sensor: "a", Driver: "ina219", Bus: "0"},
				{Sensor: "b", Driver: "gpio", Pins: []string{"GPIO1"}},
			},
			want: []string{
				`0.bus[0] W: I2C bus "0" is reserved: it is ID_SD/ID_SC (pins 27/28), where the firmware reads a HAT's ID EEPROM at boot`,
				`1.pin[0] W: GPIO1 is ID_SC (pin 28), reserved for the ID EEPROM of HATs`,
				`1.pin[0] E: GPIO1 is SCL of I2C bus "0", which sensor "a" uses`,
			},
		},
		{
			name: "power pin and bad pin names",
			uses: []Use{{Sensor: "s", Driver: "gpio", Pins: []string{"P1_6", "P1_41", "PA7", ""}}},
			want: []string{
				`0.pin[0] E: "P1_6" is header pin 6, GND: not a GPIO`,
				`0.pin[1] E: board rpi4b has no physical pin "P1_41" (the header has pins 1–40)`,
				`0.pin[2] E: "PA7" is not a pin name`,
			},
		},
		{
			name: "pin taken by an I2C bus in use",
			uses: []Use{
				{Sensor: "battery", Driver: "ina219", Bus: "1"},
				{Sensor: "door", Driver: "gpio", Pins: []string{"GPIO3"}},
			},
			want: []string{`1.pin[0] E: GPIO3 is SCL of I2C bus "1", which sensor "battery" uses: pick another GPIO`},
		},
		{
			name: "SPI0 claims both chip selects, SPI1 only those its overlay enables",
			uses: []Use{
				{Sensor: "adc", Driver: "mcp3008", Bus: "SPI0.0"},
				{Sensor: "door", Driver: "gpio", Pins: []string{"GPIO7"}},
				{Sensor: "tc", Driver: "max31855", Bus: "SPI1.0"},
				{Sensor: "ok", Driver: "gpio", Pins: []string{"GPIO17"}}, // SPI1 CE1: free with spi1-1cs
				{Sensor: "clash", Driver: "gpio", Pins: []string{"GPIO21"}},
			},
			want: []string{
				`1.pin[0] E: GPIO7 is CE1 of SPI port "SPI0.0", which sensor "adc" uses`,
				`4.pin[0] E: GPIO21 is SCLK of SPI port "SPI1.0", which sensor "tc" uses`,
			},
		},
		{
			name: "one pin, two sensors, in any spelling",
			uses: []Use{
				{Sensor: "meter", Driver: "pulse", Pins: []string{"GPIO17"}},
				{Sensor: "meter2", Driver: "pulse", Pins: []string{"P1_11"}},
				{Sensor: "self", Driver: "x", Pins: []string{"GPIO5", "5"}},
			},
			want: []string{
				`1.pin[0] E: GPIO17 is also used by sensor "meter": one pin, one sensor`,
				`2.pin[1] E: GPIO5 is also used by this sensor`,
			},
		},
		{
			name: "GPIO4 with 1-Wire in use",
			uses: []Use{
				{Sensor: "gate", Driver: "gpio", Pins: []string{"GPIO4"}},
				{Sensor: "tank", Driver: "ds18b20", Bus: "w1"},
			},
			want: []string{`0.pin[0] W: GPIO4 is the 1-Wire data pin by default, and sensor "tank" uses 1-Wire: fine only if dtoverlay=w1-gpio,gpiopin= names another GPIO`},
		},
		{
			name: "a disabled sensor only warns and claims nothing",
			uses: []Use{
				{Sensor: "old", Driver: "ina219", Bus: "7", Disabled: true},
				{Sensor: "old2", Driver: "ina219", Bus: "1", Disabled: true},
				{Sensor: "door", Driver: "gpio", Pins: []string{"GPIO2"}},
				{Sensor: "door2", Driver: "gpio", Pins: []string{"GPIO2"}, Disabled: true},
			},
			want: []string{`0.bus[0] W: board rpi4b has no I2C bus "7" (I2C buses: "1", "3", "4", "5", "6"; reserved: "0") (the sensor is disabled, so it is a warning)`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rpi4.Check(tc.uses)
			text := findings(got)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tc.want), text)
			}
			lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("finding %d:\n  %s\nwant it to contain\n  %s", i, lines[i], w)
				}
			}
		})
	}
}

func TestCheckBoards(t *testing.T) {
	uses := []Use{
		{Sensor: "a", Driver: "bme280", Bus: "3"},
		{Sensor: "b", Driver: "gpio", Pins: []string{"PA7"}},
		{Sensor: "c", Driver: "mcp3008", Bus: "SPI6.1"},
		{Sensor: "d", Driver: "sim"},
	}
	// The Pi 3 has no I2C 3 nor SPI6, nor a "PA7".
	p3, _ := Lookup("rpi3b")
	if got := p3.Check(uses); len(got) != 3 || got[0].Use != 0 || got[1].Use != 2 || got[2].Use != 1 {
		t.Errorf("rpi3b:\n%s", findings(got))
	}
	// A generic board accepts any well-formed bus and any pin name, and
	// still rejects what is no bus name at all. An empty pin is the
	// driver's "must be set", not the board's.
	g, _ := Lookup("generic-arm")
	if got := g.Check(uses); len(got) != 0 {
		t.Errorf("generic-arm:\n%s", findings(got))
	}
	if got := g.Check([]Use{{Sensor: "x", Bus: "i2c"}, {Sensor: "y", Pins: []string{" "}}}); len(got) != 1 || got[0].Warning {
		t.Errorf("generic-arm, bad names:\n%s", findings(got))
	}
}

func TestCheckSim(t *testing.T) {
	uses := []Use{
		{Sensor: "pv", Driver: "sim"},
		{Sensor: "battery", Driver: "ina219", Bus: "1"},
		{Sensor: "meter", Driver: "pulse", Pins: []string{"GPIO17"}},
		{Sensor: "adc", Driver: "mcp3008", Bus: "SPI0.0", Pins: []string{"GPIO25"}},
	}
	got := Sim.Check(uses)
	text := findings(got)
	if len(got) != 3 {
		t.Fatalf("want one warning per hardware sensor:\n%s", text)
	}
	for _, f := range got {
		if !f.Warning {
			t.Errorf("sim board: an error, want only warnings:\n%s", text)
		}
	}
	for _, want := range []string{
		`1.bus[0] W: board sim has no buses or pins: sensor "battery" (ina219) uses I2C bus "1" and cannot be read here; its wiring is checked on the box, or here with [device] board = "rpi4b" (or rpizero2w, rpizerow, rpi3b, cm4, rpi5)`,
		`2.pin[0] W: board sim has no buses or pins: sensor "meter" (pulse) uses pin "GPIO17"`,
		`3.bus[0] W: board sim has no buses or pins: sensor "adc" (mcp3008) uses SPI port "SPI0.0" and pin "GPIO25"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("warnings lack\n  %s\nin\n%s", want, text)
		}
	}
}
