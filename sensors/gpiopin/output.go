package gpiopin

import (
	"periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

// OutputPin looks up the GPIO line called name for a driver that drives it
// (package outputs), as Input.Level does for one that reads it: the same
// names, the same host init, the same not-fitted error.
func OutputPin(name string) (gpio.PinIO, error) { return hw.Pin(name) }
