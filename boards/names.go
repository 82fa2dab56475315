package boards

import (
	"strconv"
	"strings"
)

// ParseBus reads a bus name in any spelling periph or a technician uses and
// returns its kind and canonical name:
//
//	"1", "I2C1", "i2c-1", "/dev/i2c-1"   → I2C "1"
//	"SPI0.1", "spidev0.1", "/dev/spidev0.1" → SPI "SPI0.1"
//	"w1", "1-wire", "onewire"             → 1-Wire "w1"
//
// ok is false for anything else (a bare SPI bus number is not accepted: "0"
// would be I2C bus 0).
func ParseBus(name string) (kind BusKind, canon string, ok bool) {
	s := strings.TrimSpace(name)
	l := strings.ToLower(s)
	switch l {
	case "w1", "1-wire", "onewire", "1wire":
		return OneWire, "w1", true
	}
	l = strings.TrimPrefix(l, "/dev/")
	switch {
	case strings.HasPrefix(l, "spidev"):
		l = "spi" + strings.TrimPrefix(l, "spidev")
		fallthrough
	case strings.HasPrefix(l, "spi"):
		bus, cs, found := strings.Cut(strings.TrimPrefix(l, "spi"), ".")
		if !found || !isNumber(bus) || !isNumber(cs) {
			return "", "", false
		}
		return SPI, "SPI" + trimZeros(bus) + "." + trimZeros(cs), true
	case strings.HasPrefix(l, "i2c"):
		l = strings.TrimPrefix(strings.TrimPrefix(l, "i2c"), "-")
	}
	if !isNumber(l) {
		return "", "", false
	}
	return I2C, trimZeros(l), true
}

// ParsePin reads a pin name: "GPIO17", "gpio17" and "17" name GPIO17;
// "P1_11" names physical header pin 11 (GPIO17 on a 40-pin Pi), and
// physical is then true so callers can say which pin it was. It returns the
// pin's name on the board ("GPIO17", or "GND" for a ground pin, which
// callers reject) and its header pin when the header has it. name is ""
// when the form is not understood or the header has no such physical pin.
func (p Profile) ParsePin(pin string) (name string, header HeaderPin, physical bool) {
	s := strings.TrimSpace(pin)
	u := strings.ToUpper(s)
	if rest, ok := strings.CutPrefix(u, "P1_"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil {
			return "", HeaderPin{}, true
		}
		for _, h := range p.Header {
			if h.Pin == n {
				return h.Name, h, true
			}
		}
		return "", HeaderPin{}, true
	}
	u = strings.TrimPrefix(u, "GPIO")
	if !isNumber(u) {
		return "", HeaderPin{}, false
	}
	name = "GPIO" + trimZeros(u)
	h, _ := p.HeaderPinOf(name)
	return name, h, false
}

// gpioNumber is n of "GPIOn", or a large number for anything else.
func gpioNumber(name string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "GPIO"))
	if err != nil {
		return 1 << 30
	}
	return n
}

func isNumber(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// trimZeros writes a decimal without leading zeros ("01" → "1", "0" → "0").
func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}
