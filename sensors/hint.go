package sensors

import (
	"context"
	"errors"
	"fmt"

	"github.com/karana-energy/karana-edge/boards"
)

// Hint says what to check after a failed read: for a sensor that is
// not fitted (no bus, nothing at the address), whether the bus exists on
// this machine and how to enable it, which pins to wire, and how to look
// for the chip; for a timeout, what makes a read slow. `karana-edge read`
// prints it, and the technician's page shows it on a failing sensor's tile.
func Hint(sc Config, err error, board boards.Profile, pr boards.Present) []string {
	var hints []string
	if errors.Is(err, context.DeadlineExceeded) {
		hints = append(hints, fmt.Sprintf("the read took longer than its timeout (%s): is the chip powered and answering? a slow chip needs a longer timeout", sc.Timeout.Duration))
	}
	if !errors.Is(err, ErrNotFitted) {
		return hints
	}
	bus := ""
	if bu, ok := sc.Options.(BusUser); ok {
		bus = bu.BusName()
	}
	var pins []string
	if pu, ok := sc.Options.(PinUser); ok {
		pins = pu.PinNames()
	}
	kind, canon, parsed := boards.ParseBus(bus)
	switch {
	case bus == "" || !parsed:
	case !pr.Has(canon):
		h := fmt.Sprintf("this machine has no %s %q", kind, canon)
		if lines := board.EnableLines(canon); len(lines) > 0 && board.ConfigFile != "" {
			h += fmt.Sprintf(": add %s to %s and reboot", lines[0], board.ConfigFile)
		} else if board.Name == boards.Sim.Name {
			h += " (no board detected: is this the box?)"
		}
		hints = append(hints, h)
	default:
		h := fmt.Sprintf("%s %q is present: is the sensor wired", kind, canon)
		if b, ok := board.Bus(canon); ok && len(b.Pins) > 0 {
			h += " (" + board.PinList(b.Pins) + ")"
		}
		h += " and powered?"
		hints = append(hints, h)
		if kind == boards.I2C {
			hints = append(hints, fmt.Sprintf("is the address right? karana-edge scan -bus %s lists the chips that answer", canon))
		}
	}
	for _, pin := range pins {
		name, h, _ := board.ParsePin(pin)
		if h.Pin != 0 {
			hints = append(hints, fmt.Sprintf("is it wired to %s (header pin %d)? do the gpiochip lines exist (gpio devices here: %d)?", name, h.Pin, len(pr.GPIOChips)))
		} else if name != "" || pin != "" {
			hints = append(hints, fmt.Sprintf("is pin %q a line of this board's gpiochips (gpioinfo)?", pin))
		}
	}
	if sp, ok := sc.Options.(SerialPortUser); ok && sp.SerialPort() != "" {
		hints = append(hints, fmt.Sprintf("is the adapter on %s plugged in, or the UART enabled? karana-edge board lists the serial ports present (a USB adapter is best named by its /dev/serial/by-id/ link)", sp.SerialPort()))
	}
	if len(hints) == 0 {
		hints = append(hints, "is the bus enabled (karana-edge board), is the sensor wired and powered, and is its address right?")
	}
	return hints
}
