package outputs

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/sensors/gpiopin"
)

// Driver sets an output; Set must be safe to call with the state it has.
type Driver interface {
	Set(on bool) error
	Close() error
}

// Open returns c's driver. A GPIO line is looked up and configured as an
// output at its safe level at once, so it never floats.
func Open(c Config) (Driver, error) {
	switch c.Driver {
	case "gpio":
		p, err := gpiopin.OutputPin(c.Pin)
		if err != nil {
			return nil, fmt.Errorf("output %s on pin %s: %w", c.Name, c.Pin, err)
		}
		return GPIO(p, c)
	case "modbus":
		return openModbus(c)
	case "exec":
		return &execOut{argv: c.Command, name: c.Name}, nil
	}
	return nil, fmt.Errorf("output %s: unknown driver %q", c.Name, c.Driver)
}

// GPIO drives pin for output c, set to c's safe level at once (tests pass
// a gpiotest pin).
func GPIO(pin gpio.PinOut, c Config) (Driver, error) {
	d := &gpioOut{pin: pin, activeLow: c.Active == "low", name: c.Name}
	if err := d.Set(c.SafeOn()); err != nil {
		return nil, err
	}
	return d, nil
}

type gpioOut struct {
	pin       gpio.PinOut
	activeLow bool
	name      string
}

func (d *gpioOut) Set(on bool) error {
	l := gpio.Level(on != d.activeLow)
	if err := d.pin.Out(l); err != nil {
		return fmt.Errorf("output %s on pin %s: set %s: %w", d.name, d.pin.Name(), l, err)
	}
	return nil
}

// Close leaves the line driven: the controller put it in its safe state,
// and releasing it would let it float.
func (d *gpioOut) Close() error { return nil }

// execTimeout bounds one run of an exec output's command.
const execTimeout = 10 * time.Second

type execOut struct {
	argv []string
	name string
}

func (d *execOut) Set(on bool) error {
	arg := "off"
	if on {
		arg = "on"
	}
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.argv[0], append(d.argv[1:len(d.argv):len(d.argv)], arg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(out) > 200 {
			out = out[:200]
		}
		return fmt.Errorf("output %s: %s %s: %w (output: %q)", d.name, d.argv[0], arg, err, out)
	}
	return nil
}

func (d *execOut) Close() error { return nil }
