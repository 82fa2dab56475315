// Package gpiopin is what the GPIO sensor drivers share, as package i2cbus
// is for I2C and spibus for SPI: the option keys of an input pin (Options:
// pin, pull, debounce; CounterOptions adds edge), their validation, and the
// validated pin (Input), opened by a driver's first read with errors that
// name the driver and the pin:
//
//	gpio on pin GPIO22: level not stable for 20ms (changed 9 times) before the read timed out: …
//	pulse on pin GPIO5: no such pin on this board (`karana-edge board` lists the header pins): not fitted
//
// A pin the board does not have matches sensors.ErrNotFitted. Pins are
// looked up through package sensors/internal/hw ("GPIO17", or
// "gpiochip0/17" for an unnamed line on a generic board), so periph's host
// drivers are initialised by the first read, never by `karana-edge check`.
// Counting edges is package sensors/internal/edges.
//
// Tests register gpiotest pins under made-up names with gpioreg.Register
// and set hw.HostInit to a no-op, so the machine's own pins are never seen.
package gpiopin

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors/internal/edges"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

// Options are the keys of every GPIO input driver. Drivers embed it
// (untagged) in their own options struct, so the keys sit inline in the
// [[sensor]] table and the struct implements sensors.PinUser.
type Options struct {
	// Pin is the GPIO input, e.g. "GPIO17". Required.
	Pin string `toml:"pin"`
	// Pull is up, down or none (an external resistor). Each driver
	// defaults it to "up".
	Pull string `toml:"pull"`
	// Debounce is how long the level must be stable; each driver says
	// what that means for it, and sets its default and maximum.
	Debounce config.Duration `toml:"debounce"`
}

// PinNames implements sensors.PinUser.
func (o Options) PinNames() []string { return []string{o.Pin} }

// CounterOptions are the keys of a driver that counts edges.
type CounterOptions struct {
	Options
	// Edge is the transition counted: falling, rising or both. Each
	// driver defaults it to "falling".
	Edge string `toml:"edge"`
}

var pulls = map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float}

var edgesByName = map[string]gpio.Edge{"falling": gpio.FallingEdge, "rising": gpio.RisingEdge, "both": gpio.BothEdges}

// Validate adds errors for pin, pull and a debounce beyond 0…maxDebounce,
// and returns the input of driver it describes.
func (o Options) Validate(errs *config.FieldErrors, driver string, maxDebounce time.Duration) Input {
	if o.Pin == "" {
		errs.Add("pin", `must be set, e.g. "GPIO17" (`+"`karana-edge board`"+` lists the header pins)`)
	}
	pull, ok := pulls[o.Pull]
	if !ok {
		errs.Add("pull", "unknown pull %q (use up, down or none)", o.Pull)
	}
	if d := o.Debounce.Duration; d < 0 || d > maxDebounce {
		errs.Add("debounce", "must be between 0 and %s, got %s", maxDebounce, d)
	}
	return Input{Driver: driver, Pin: o.Pin, Pull: pull, Edge: gpio.NoEdge, Debounce: o.Debounce.Duration}
}

// Validate adds errors as Options.Validate does, and for the edge.
func (o CounterOptions) Validate(errs *config.FieldErrors, driver string, maxDebounce time.Duration) Input {
	in := o.Options.Validate(errs, driver, maxDebounce)
	var ok bool
	if in.Edge, ok = edgesByName[o.Edge]; !ok {
		errs.Add("edge", "unknown edge %q (use falling, rising or both)", o.Edge)
	}
	return in
}

// Input is a validated input pin of a driver. It holds nothing open:
// Level and Count look the pin up each time a driver opens it.
type Input struct {
	// Driver is the registered driver name, for messages ("pulse").
	Driver string
	// Pin is the pin as configured ("GPIO17").
	Pin      string
	Pull     gpio.Pull
	Edge     gpio.Edge // NoEdge for a level input
	Debounce time.Duration
}

// String names the input as its errors do: "pulse on pin GPIO17".
func (in Input) String() string { return in.Driver + " on pin " + in.Pin }

// Err wraps err naming the input: "gpio on pin GPIO22: …".
func (in Input) Err(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", in, err)
}

// Level returns the pin configured as an input with its pull and no edge
// detection, to read its level.
func (in Input) Level() (gpio.PinIO, error) {
	p, err := hw.Pin(in.Pin)
	if err != nil {
		return nil, in.Err(err)
	}
	if err := p.In(in.Pull, gpio.NoEdge); err != nil {
		return nil, in.Err(fmt.Errorf("set as input (%s): %w", in.Pull, err))
	}
	return p, nil
}

// Count configures the pin and starts counting its debounced edges (see
// package edges); poll 0 is edges.DefaultPoll.
func (in Input) Count(poll time.Duration) (*edges.Counter, error) {
	p, err := hw.Pin(in.Pin)
	if err != nil {
		return nil, in.Err(err)
	}
	c, err := edges.Start(p, edges.Options{Pull: in.Pull, Edge: in.Edge, Debounce: in.Debounce, Poll: poll})
	return c, in.Err(err)
}
