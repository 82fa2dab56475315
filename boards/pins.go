package boards

import (
	"fmt"
	"strings"
)

// PinList writes a bus's pins with their header pins: "SDA GPIO2 (pin 3)".
func (p Profile) PinList(pins []BusPin) string {
	parts := make([]string, 0, len(pins))
	for _, bp := range pins {
		s := bp.Role + " " + bp.GPIO
		if h, ok := p.HeaderPinOf(bp.GPIO); ok {
			s += fmt.Sprintf(" (pin %d)", h.Pin)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
