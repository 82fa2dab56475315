package boards

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Present is what buses and GPIO chips this machine has right now, from its
// device nodes: what the kernel created from config.txt at the last boot.
type Present struct {
	I2C       []string // bus numbers: "1" for /dev/i2c-1
	SPI       []string // ports: "SPI0.0" for /dev/spidev0.0
	GPIOChips []string // "gpiochip0"
	OneWire   bool     // the kernel's w1 bus (/sys/bus/w1/devices) exists
	// Serial are the serial ports: UARTs, USB adapters and their links.
	Serial []SerialPort
}

// Devices lists the bus and GPIO devices under root ("/" on a box; a
// fixture tree in tests). It never opens them.
func Devices(root string) Present {
	var pr Present
	for _, m := range glob(root, "dev/i2c-*") {
		if n := strings.TrimPrefix(m, "i2c-"); isNumber(n) {
			pr.I2C = append(pr.I2C, trimZeros(n))
		}
	}
	for _, m := range glob(root, "dev/spidev*") {
		if _, canon, ok := ParseBus(m); ok {
			pr.SPI = append(pr.SPI, canon)
		}
	}
	for _, m := range glob(root, "dev/gpiochip*") {
		if isNumber(strings.TrimPrefix(m, "gpiochip")) {
			pr.GPIOChips = append(pr.GPIOChips, m)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "sys/bus/w1/devices")); err == nil && fi.IsDir() {
		pr.OneWire = true
	}
	pr.Serial = serialPorts(root)
	slices.SortFunc(pr.I2C, byNumber)
	slices.SortFunc(pr.SPI, byNumber)
	slices.SortFunc(pr.GPIOChips, byNumber)
	return pr
}

// Has reports whether the bus (any spelling ParseBus reads) is present.
func (pr Present) Has(bus string) bool {
	kind, canon, ok := ParseBus(bus)
	switch {
	case !ok:
		return false
	case kind == I2C:
		return slices.Contains(pr.I2C, canon)
	case kind == SPI:
		return slices.Contains(pr.SPI, canon)
	}
	return pr.OneWire
}

// glob returns the base names matching pattern under root.
func glob(root, pattern string) []string {
	ms, _ := filepath.Glob(filepath.Join(root, pattern)) // only ErrBadPattern, and the patterns are ours
	for i, m := range ms {
		ms[i] = filepath.Base(m)
	}
	return ms
}

// byNumber orders names by the numbers in them: "i2c 2" before "i2c 10",
// "SPI0.1" before "SPI1.0".
func byNumber(a, b string) int {
	na, nb := numbers(a), numbers(b)
	if c := slices.Compare(na, nb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func numbers(s string) []int {
	var out []int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}
