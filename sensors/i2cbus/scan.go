package i2cbus

import (
	"slices"

	"periph.io/x/conn/v3/i2c"

	"github.com/karana-energy/karana-edge/sensors"
)

// Addresses i2cdetect probes: 0x00–0x02 and 0x78–0x7F are reserved (general
// call, CBUS, 10-bit addressing).
const (
	FirstAddr uint16 = 0x03
	LastAddr  uint16 = 0x77
)

// Scan returns the addresses from FirstAddr to LastAddr at which a chip
// acknowledges a one-byte read, in ascending order. A one-byte read
// everywhere is `i2cdetect -r`: periph's Tx does no I/O for an empty
// transaction, so the quick write i2cdetect uses elsewhere cannot be sent,
// and a read is what i2cdetect uses itself for the EEPROM ranges
// (0x30–0x37, 0x50–0x5F), where a quick write can corrupt some parts. Any
// error at an address counts as nothing there.
func Scan(bus i2c.Bus) []uint16 {
	var found []uint16
	var b [1]byte
	for a := FirstAddr; a <= LastAddr; a++ {
		if bus.Tx(a, nil, b[:]) == nil {
			found = append(found, a)
		}
	}
	return found
}

// LikelyChips returns the registered drivers whose chip can answer at addr
// (their Driver.I2CAddrs), sorted by name.
func LikelyChips(addr uint16) []string {
	var out []string
	for _, name := range sensors.DriverNames() {
		d, ok := sensors.Lookup(name)
		if ok && slices.Contains(d.I2CAddrs, addr) {
			out = append(out, name)
		}
	}
	return out
}
