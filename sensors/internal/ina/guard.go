package ina

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"periph.io/x/conn/v3/mmr"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// The id registers of the INA226 and INA3221 (the INA219 has none).
const (
	RegManufacturer = 0xFE
	RegDieID        = 0xFF
	ManufacturerTI  = 0x5449 // "TI"
)

// Regs are the chip's 16-bit registers, MSB first, on the open bus.
func Regs(dev *i2cbus.Device) mmr.Dev8 { return mmr.Dev8{Conn: dev.Dev(), Order: binary.BigEndian} }

// IDs reads the manufacturer and die id registers. A chip that answers the
// first is fitted (dev.OK): from then on a NACK is a failure.
func IDs(dev *i2cbus.Device) (manuf, die uint16, err error) {
	if manuf, err = read16(dev, RegManufacturer, "init"); err != nil {
		return 0, 0, err
	}
	dev.OK()
	die, err = read16(dev, RegDieID, "init")
	return manuf, die, err
}

// Guard is a register that keeps what setup wrote for as long as the chip
// keeps its configuration: the INA219's and INA226's calibration, which
// reads 0 after a reset (current and power would then read 0 while the
// voltage looks right), and the INA3221's configuration, which returns to
// its power-on value. It is read before the data, to find a chip that
// reset, and again after: SDA held low, or a chip that let go of it, from
// part-way through a read turns the rest into 0x0000 or 0xFFFF, and the
// guard still holding what was written shows that neither happened.
type Guard struct {
	Reg  uint8
	Name string // for errors: "calibration"
	Want uint16 // what setup wrote
	// Reset tells, from a value read before the data, a chip that reset
	// from a stuck bus or another chip; nil: any other value is a reset.
	Reset func(got uint16) bool
}

// ZeroAfterReset is Guard.Reset for a calibration register: a chip that
// reset reads 0; any other value is not a reset.
func ZeroAfterReset(got uint16) bool { return got == 0 }

// Before checks the guard at the start of a read of a chip set up by an
// earlier read. A chip that reset is set up again now, and the read fails:
// what it converted unconfigured is not used, the next read's is.
func (g Guard) Before(ctx context.Context, dev *i2cbus.Device, setup func(context.Context) error) error {
	got, err := read16(dev, g.Reg, "read")
	if err != nil || got == g.Want {
		return err
	}
	if g.Reset != nil && !g.Reset(got) {
		return dev.Err("read", fmt.Errorf("%s reads 0x%04x, written 0x%04x: a stuck bus or another chip", g.Name, got, g.Want))
	}
	if err := dev.Setup(ctx, setup); err != nil {
		return err
	}
	return dev.Err("read", fmt.Errorf("the chip had reset (%s read 0x%04x, written 0x%04x: a brown-out?); it is set up again and the next read will be valid", g.Name, got, g.Want))
}

// After reads the guard again after the data. When it no longer holds what
// was written, the read's values are dropped and the chip is set up again
// by the next read.
func (g Guard) After(dev *i2cbus.Device) error {
	got, err := read16(dev, g.Reg, "read")
	if err != nil || got == g.Want {
		return err
	}
	dev.Reset()
	return dev.Err("read", fmt.Errorf("%s reads 0x%04x after the data, written 0x%04x: the bus stuck or the chip let go of it (0x0000, 0xffff) or reset during the read; its values are dropped", g.Name, got, g.Want))
}

// read16 reads a 16-bit register, MSB first, as all three chips send them.
func read16(dev *i2cbus.Device, reg uint8, op string) (uint16, error) {
	var b [2]byte
	if err := dev.Dev().Tx([]byte{reg}, b[:]); err != nil {
		return 0, dev.Err(op, err)
	}
	return binary.BigEndian.Uint16(b[:]), nil
}

// Read is i2cbus.Device.Read for an INA chip: on a chip set up by an
// earlier read, the guard is checked (Before) before read runs. read calls
// After itself, after the data and before it interprets them.
func (g Guard) Read(ctx context.Context, dev *i2cbus.Device, setup func(context.Context) error,
	read func(context.Context) ([]sensors.Value, error)) ([]sensors.Value, error) {
	return dev.Read(ctx, setup, func(ctx context.Context, set bool) ([]sensors.Value, error) {
		if !set {
			if err := g.Before(ctx, dev, setup); err != nil {
				return nil, err
			}
		}
		return read(ctx)
	})
}

// FirstConversion is when the first averaged result after a setup is
// ready: until then the result registers hold their power-on values (or
// the previous configuration's). setup calls Started, each read Wait.
type FirstConversion struct {
	Cycle time.Duration // the longest one averaged result takes (see Cycle)
	// Now and Sleep are the clock; tests replace them to see when a
	// driver waits.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	at    time.Time
}

// NewFirstConversion returns a FirstConversion on the real clock.
func NewFirstConversion(cycle time.Duration) FirstConversion {
	return FirstConversion{Cycle: cycle, Now: time.Now, Sleep: sensors.Sleep}
}

// Started records that setup has just configured the chip.
func (f *FirstConversion) Started() { f.at = f.Now().Add(f.Cycle) }

// Wait waits until the first conversion since Started has ended.
func (f *FirstConversion) Wait(ctx context.Context, dev *i2cbus.Device) error {
	if wait := f.at.Sub(f.Now()); wait > 0 {
		if err := f.Sleep(ctx, wait); err != nil {
			return dev.Err("waiting for the first conversion", err)
		}
	}
	return nil
}

// Shunt is the shunt input of an INA219 or INA226, for ValidateShunt.
type Shunt struct {
	Chip       string  // "INA219"
	Range      float64 // the input's full scale, V
	MinCurrent float64 // the smallest max_current accepted, A
}

// Validate adds errors for the options shunt_ohms and max_current, and
// reports whether both are usable, for the caller to check the
// calibration they give.
func (sh Shunt) Validate(errs *config.FieldErrors, ohms, maxCurrent float64) bool {
	shuntOK := i2cbus.Finite(errs, "shunt_ohms", ohms)
	if shuntOK && (ohms <= 0 || ohms > 100) {
		errs.Add("shunt_ohms", "must be more than 0 and at most 100 Ω, got %v", ohms)
		shuntOK = false
	}
	currentOK := i2cbus.Finite(errs, "max_current", maxCurrent)
	if currentOK && (maxCurrent < sh.MinCurrent || maxCurrent > 1000) {
		errs.Add("max_current", "must be from %v to 1000 A, got %v", sh.MinCurrent, maxCurrent)
		currentOK = false
	}
	if !shuntOK || !currentOK {
		return false
	}
	// 1e-9: 0.1 Ω × 3.2 A is 0.32000000000000006 V.
	if v := ohms * maxCurrent; v > sh.Range*(1+1e-9) {
		errs.Add("max_current", "%v A through %v Ω drops %.4g mV, beyond the %s's ±%.4g mV shunt input: lower max_current or use a smaller shunt",
			maxCurrent, ohms, v*1000, sh.Chip, sh.Range*1000)
		return false
	}
	return true
}
