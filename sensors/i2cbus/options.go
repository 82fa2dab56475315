package i2cbus

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/karana-energy/karana-edge/config"
)

// DefaultBus is the Raspberry Pi header bus (pins 3 and 5).
const DefaultBus = "1"

// Options are the keys every I2C driver has. Drivers embed it (untagged) in
// their own options struct, so the keys sit inline in the [[sensor]] table
// and the struct implements sensors.BusUser.
type Options struct {
	// Bus is the I2C bus name or number. Default "1", the Pi header bus;
	// "" is refused because periph would pick the first bus it finds,
	// which may be an HDMI or camera bus.
	Bus string `toml:"bus"`
	// Address is the chip's 7-bit address; each driver defaults it to the
	// chip's own default and checks it against the addresses the chip can
	// take.
	Address Addr `toml:"address"`
}

// Addr is a 7-bit I2C address. It is written as a TOML integer, usually in
// hex (0x40), and the effective configuration prints it in hex.
type Addr int

// MarshalTOML writes the address as a TOML hex integer.
func (a Addr) MarshalTOML() ([]byte, error) {
	if a < 0 {
		return []byte(fmt.Sprintf("%d", int(a))), nil
	}
	return []byte(fmt.Sprintf("0x%02x", int(a))), nil
}

// BusName implements sensors.BusUser: the bus as written ("1").
func (o Options) BusName() string { return o.Bus }

// Validate adds errors for the bus and for an address that is not one of
// valid (the chip's possible addresses); why says how the address is set
// ("set by the A0 and A1 pins").
func (o Options) Validate(errs *config.FieldErrors, chip string, valid []uint16, why string) {
	switch {
	case o.Bus == "":
		errs.Add("bus", "must be set: on a Raspberry Pi the header bus is %q (an empty name may pick an HDMI or camera bus)", DefaultBus)
	case len(o.Bus) > 64 || strings.IndexFunc(o.Bus, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0:
		errs.Add("bus", "invalid bus name %q: use the bus number (%q) or its name (\"I2C1\")", o.Bus, DefaultBus)
	}
	ok := false
	for _, a := range valid {
		ok = ok || int(o.Address) == int(a)
	}
	if !ok {
		msg := fmt.Sprintf("%s is not an address the %s can have: use %s", addrString(int(o.Address)), chip, AddrList(valid))
		if why != "" {
			msg += " (" + why + ")"
		}
		errs.Add("address", "%s", msg)
	}
}

// addrString prints an address as hex, or as a number when it is not a
// plausible address at all.
func addrString(a int) string {
	if a < 0 || a > 0x3ff {
		return fmt.Sprintf("%d", a)
	}
	return fmt.Sprintf("0x%02x", a)
}

// AddrList prints addresses compactly: "0x76 or 0x77", "0x40-0x4f".
func AddrList(addrs []uint16) string {
	var parts []string
	for i := 0; i < len(addrs); {
		j := i
		for j+1 < len(addrs) && addrs[j+1] == addrs[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, fmt.Sprintf("0x%02x-0x%02x", addrs[i], addrs[j]))
		case j > i:
			parts = append(parts, fmt.Sprintf("0x%02x", addrs[i]), fmt.Sprintf("0x%02x", addrs[j]))
		default:
			parts = append(parts, fmt.Sprintf("0x%02x", addrs[i]))
		}
		i = j + 1
	}
	switch len(parts) {
	case 0:
		return "no address"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// Range returns the addresses from lo to hi inclusive, for I2CAddrs.
func Range(lo, hi uint16) []uint16 {
	out := make([]uint16, 0, hi-lo+1)
	for a := lo; a <= hi; a++ {
		out = append(out, a)
	}
	return out
}

// Finite adds an error for a NaN or infinite option value and reports
// whether v is finite.
func Finite(errs *config.FieldErrors, key string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		errs.Add(key, "must be a finite number, got %v", v)
		return false
	}
	return true
}

// Round rounds v to the given number of decimals and returns the float64
// closest to that decimal, so 21.37 prints as 21.37 and encodes compactly.
func Round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}
