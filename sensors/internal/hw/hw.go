// Package hw opens the SPI ports and GPIO pins that karana-edge's drivers
// use, through periph.io's registries, with the errors a technician on site
// can act on.
//
// periph's host drivers are initialised once, lazily, by the first open (a
// driver's first Read), never by a constructor: `karana-edge check` must run
// on a laptop. host.Init returns an error only for registry problems; a bus
// that is not enabled simply is not registered, so "no such port" and "no
// such pin" are reported as sensors.ErrNotFitted with the config.txt line or
// group membership to check. On a machine without the buses (CI, a laptop,
// qemu-user) every open is ErrNotFitted; nothing panics.
package hw

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3/gpioioctl"

	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// HostInit initialises periph's host drivers, through the one guarded init
// that I2C uses too (i2cbus.Init), so the drivers are set up once whichever
// bus a box opens first. Tests replace it with a no-op so that only the
// fakes they register are seen, never the machine's buses.
var HostInit = func() error { return i2cbus.Init(nil) }

// OpenSPI opens the SPI port called name ("SPI0.0" is bus 0, chip select
// 0). Its errors do not repeat the name: the caller's error names the port
// (spibus.Device: "max31855 on SPI0.1: no such SPI port on this box …").
func OpenSPI(name string) (spi.PortCloser, error) {
	if err := HostInit(); err != nil {
		return nil, err
	}
	known := spiNames()
	if len(known) == 0 {
		return nil, fmt.Errorf("no SPI port on this box (enable SPI: dtparam=spi=on in /boot/firmware/config.txt, then reboot): %w",
			sensors.ErrNotFitted)
	}
	p, err := spireg.Open(name)
	if err != nil {
		if !contains(known, name) {
			return nil, fmt.Errorf("no such SPI port on this box (ports: %s; SPI0.1 is chip select CE1): %w",
				strings.Join(known, ", "), sensors.ErrNotFitted)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("open: %w (is the service user in group spi?)", err)
		}
		return nil, fmt.Errorf("open: %w", err)
	}
	return p, nil
}

func spiNames() []string {
	var out []string
	for _, r := range spireg.All() {
		out = append(out, r.Name)
		out = append(out, r.Aliases...)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Pin returns the GPIO pin called name ("GPIO17", or "gpiochip0/17" for an
// unnamed line on a generic board). Its errors do not repeat the name: the
// caller's error names the pin (gpiopin.Input: "pulse on pin GPIO17: …").
func Pin(name string) (gpio.PinIO, error) {
	if err := HostInit(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		// On generic boards most lines have no name and are not in the
		// registry (HARDWARE.md): "gpiochip0/17" addresses them by number.
		p = lineByNumber(name)
	}
	if p == nil {
		hint := "`karana-edge board` lists the header pins"
		if len(gpioreg.All()) == 0 {
			hint = "no GPIO pins at all on this box: is /dev/gpiochip0 there and is the service user in group gpio?"
		}
		return nil, fmt.Errorf("no such pin on this board (%s): %w", hint, sensors.ErrNotFitted)
	}
	return p, nil
}

// lineByNumber resolves "gpiochipN/LINE" (a chip as /dev names it, then the
// line offset) through the GPIO character device; nil when name is not of
// that form or there is no such chip or line.
func lineByNumber(name string) gpio.PinIO {
	chip, line, ok := strings.Cut(name, "/")
	if !ok || !strings.HasPrefix(chip, "gpiochip") {
		return nil
	}
	n, err := strconv.Atoi(line)
	if err != nil || n < 0 {
		return nil
	}
	for _, c := range gpioioctl.Chips {
		if c.Name() == chip || "/dev/"+c.Name() == chip {
			if l := c.ByNumber(n); l != nil {
				return l
			}
		}
	}
	return nil
}
