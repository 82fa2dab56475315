package i2cbus

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	// The host drivers karana-edge's boards use, not host.Init's all:
	// sysfs for /dev/i2c-N, /dev/spidevB.C and the LEDs, gpioioctl for
	// /dev/gpiochipN (a Pi 5's RP1, generic-arm boards), and on ARM the
	// Raspberry Pi's (pi_drivers.go). Allwinner, AM335x, CHIP, ODROID and
	// Pine64 drivers, and netlink 1-Wire (ds18b20 reads w1 sysfs), cost
	// ~320 KB of a Zero's 12 MiB binary budget for boards no profile
	// describes.
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs"

	"github.com/karana-energy/karana-edge/sensors"
)

// Opener opens an I2C bus by name ("1"). Open is the real one; tests pass
// one that returns a fake bus.
type Opener func(name string) (i2c.BusCloser, error)

// DefaultOpener is the Opener of every Device that sets none: Open, periph's
// registry. A test of code that builds sensors through the driver registry
// (and so cannot reach their Device) may swap it for a fake, and must put it
// back.
var DefaultOpener Opener = Open

// EnableHint is what to check when a bus is missing on a Raspberry Pi.
const EnableHint = "is I2C enabled? dtparam=i2c_arm=on in /boot/firmware/config.txt"

// The registry seams: tests replace them so that no test ever initialises
// the host's drivers or opens a real /dev/i2c-N.
var (
	hostInit     = driverreg.Init
	registryOpen = i2creg.Open
	registryAll  = i2creg.All
)

var (
	initMu   sync.Mutex
	initDone bool
	initErr  error
)

// Init initialises periph's host drivers once and logs, at debug level, the
// drivers that failed or were skipped (on a machine without the hardware
// every driver is skipped; that is not an error). Later calls return the
// first call's error. Open calls it with a nil logger (discard) when it has
// not run yet, so call it first with the daemon's logger to see the list.
func Init(log *slog.Logger) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initDone {
		return initErr
	}
	initDone = true
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st, err := hostInit()
	if err != nil {
		initErr = fmt.Errorf("periph host init: %w", err)
		return initErr
	}
	if st != nil {
		for _, f := range st.Failed {
			log.Debug("periph driver failed", "driver", f.D.String(), "err", f.Err)
		}
		for _, f := range st.Skipped {
			log.Debug("periph driver skipped", "driver", f.D.String(), "reason", f.Err)
		}
	}
	return nil
}

// Open opens the named bus through periph's registry, initialising the host
// drivers first if Init has not run. Errors are *BusError; a bus that does
// not exist on this machine wraps sensors.ErrNotFitted.
func Open(name string) (i2c.BusCloser, error) {
	if err := Init(nil); err != nil {
		return nil, &BusError{Bus: name, Err: err}
	}
	b, err := registryOpen(name)
	if err != nil {
		return nil, classifyOpen(name, err)
	}
	return b, nil
}

// classifyOpen turns an i2creg or sysfs-i2c error into a BusError that says
// what to check. The texts matched are periph's (conn v3.7.2, host v3.8.5).
func classifyOpen(name string, err error) *BusError {
	msg := err.Error()
	be := &BusError{Bus: name, Err: err}
	switch {
	case strings.Contains(msg, "no bus found"):
		// No /dev/i2c-N at all (or i2c-dev not loaded).
		be.NotFitted, be.What = true, "not found"
		be.Hint = EnableHint
	case strings.Contains(msg, "unknown bus"):
		be.NotFitted, be.What = true, "not found"
		be.Hint = EnableHint
		if present := busNames(); len(present) > 0 {
			be.Hint = "buses present: " + strings.Join(present, ", ") + "; " + EnableHint
		}
	case strings.Contains(msg, "not configured"):
		// Registered but the device node has gone (overlay removed).
		be.NotFitted, be.What = true, "not found"
		be.Hint = EnableHint
	case strings.Contains(msg, "permission denied"):
		be.What = "permission denied"
		be.Hint = "is the service user in group i2c? (SupplementaryGroups=i2c in the unit)"
	default:
		be.What = "open failed"
	}
	return be
}

// busNames lists the registered buses by number (or name when unnumbered),
// the way the bus option names them.
func busNames() []string {
	var out []string
	for _, r := range registryAll() {
		if r.Number >= 0 {
			out = append(out, strconv.Itoa(r.Number))
		} else {
			out = append(out, r.Name)
		}
	}
	return out
}

// BusError is a bus that could not be opened.
type BusError struct {
	Bus string
	// What happened, shortly: "not found", "permission denied".
	What string
	// Hint says what to check; may be empty.
	Hint string
	// NotFitted: this machine has no such bus; the error matches
	// sensors.ErrNotFitted.
	NotFitted bool
	Err       error
}

func (e *BusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "i2c bus %q: ", e.Bus)
	what := e.What
	if what == "" {
		what = "open failed"
	}
	b.WriteString(what)
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	// periph's own text for a missing bus ("did you forget to call
	// Init()?") would mislead; for the rest it is the useful part.
	if !e.NotFitted && e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *BusError) Unwrap() error { return e.Err }

// Is makes a missing bus match sensors.ErrNotFitted.
func (e *BusError) Is(target error) bool {
	return e.NotFitted && target == sensors.ErrNotFitted
}
