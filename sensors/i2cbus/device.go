package i2cbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/karana-energy/karana-edge/sensors"
)

// Device is one chip on a named bus. Read runs each of a driver's reads:
// it opens the bus when it is closed and sets the chip up first whenever
// the bus was freshly opened or the driver called Reset. Close closes the
// bus; the next Read opens it again.
//
// Read and Close hold the device's lock, so a driver needs none of its own
// for what its read and setup functions touch. The other methods are for
// those functions, which run under the lock, and for tests.
type Device struct {
	// Driver is the registered driver name, for messages ("ina219").
	Driver string
	// Bus is the bus name as configured ("1").
	Bus string
	// Addr is the chip's 7-bit address.
	Addr uint16
	// Opener opens the bus; nil means DefaultOpener.
	Opener Opener

	mu       sync.Mutex // held by Read and Close
	bus      i2c.BusCloser
	tr       *tracker
	answered bool // the chip acknowledged a transaction since the process started
	ready    bool // the driver's setup succeeded since the bus was opened
}

// String names the device as errors do: "ina219 on i2c bus 1 addr 0x40".
func (d *Device) String() string {
	return fmt.Sprintf("%s on i2c bus %s addr 0x%02x", d.Driver, d.Bus, d.Addr)
}

// open returns the bus, opening it when it is closed; fresh is true when it
// was just opened. The bus returned remembers its last failed transaction
// for Err, so drivers must use Dev rather than the bus the Opener
// returned. Errors are already wrapped by Err.
func (d *Device) open() (bus i2c.Bus, fresh bool, err error) {
	if d.bus == nil {
		open := d.Opener
		if open == nil {
			open = DefaultOpener
		}
		b, err := open(d.Bus)
		if err != nil {
			return nil, false, d.Err("open", err)
		}
		d.bus, d.tr, fresh = b, &tracker{Bus: b}, true
	}
	d.tr.take() // a new read: forget the last one's failure
	return d.tr, fresh, nil
}

// Read runs one read of the chip, the same way for every driver: under the
// device's lock it fails with ctx's error when ctx is done, opens the bus
// when it is closed, runs setup through Setup when the chip is not set up
// (the bus was just opened, a setup failed, or Reset was called), and then
// read. set tells read that setup has just run; a driver that checks for a
// chip reset does so only when it has not. setup may be nil (a chip with
// nothing to set up). Errors are wrapped by Err, or setup's and read's own.
func (d *Device) Read(ctx context.Context, setup func(context.Context) error,
	read func(ctx context.Context, set bool) ([]sensors.Value, error)) ([]sensors.Value, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	set, err := d.begin(ctx, setup)
	if err != nil {
		return nil, err
	}
	return read(ctx, set)
}

func (d *Device) begin(ctx context.Context, setup func(context.Context) error) (set bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, d.Err("read", err)
	}
	_, fresh, err := d.open()
	if err != nil {
		return false, err
	}
	if fresh {
		d.ready = false
	}
	if d.ready || setup == nil {
		return false, nil
	}
	return true, d.Setup(ctx, setup)
}

// Setup runs setup now, for a driver that found its chip reset in the
// middle of a read, and records whether it succeeded: after a failure the
// next Read runs it again.
func (d *Device) Setup(ctx context.Context, setup func(context.Context) error) error {
	d.ready = false
	if err := setup(ctx); err != nil {
		return err
	}
	d.ready = true
	return nil
}

// Reset makes the next Read set the chip up again: its registers no
// longer hold what setup wrote (a brown-out), or a read showed the bus
// stuck.
func (d *Device) Reset() { d.ready = false }

// Dev returns the chip's connection on the open bus; nil when closed.
func (d *Device) Dev() *i2c.Dev {
	if d.tr == nil {
		return nil
	}
	return &i2c.Dev{Bus: d.tr, Addr: d.Addr}
}

// Recovered forgets the last failed transaction, for a driver that retried
// it with success: a later error must not be blamed on it.
func (d *Device) Recovered() {
	if d.tr != nil {
		d.tr.take()
	}
}

// OK records that the chip answered: from now on, a NACK is a failure, not
// a chip that is not fitted.
func (d *Device) OK() { d.answered = true }

// Close closes the bus, if open; the next Read opens it again. The error is
// the bus's (a test's Playback reports transactions left unplayed).
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bus == nil {
		return nil
	}
	b := d.bus
	d.bus, d.tr, d.ready = nil, nil, false
	if err := b.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", d, err)
	}
	return nil
}

// Err wraps err, which happened during op ("init", "read"), into an *Error
// naming the device. The last failed bus transaction is added as the cause
// when err does not already carry it. Errors already wrapped are returned
// as they are.
func (d *Device) Err(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	cause := err
	if d.tr != nil {
		if last := d.tr.take(); last != nil && !errors.Is(err, last) {
			cause = withCause(err, last)
		}
	}
	var be *BusError
	e := &Error{Device: d.String(), Op: op, Err: cause}
	switch {
	case errors.As(err, &be):
		e.NotFitted = be.NotFitted
	case IsNoAnswer(cause):
		e.NoAnswer = true
		e.NotFitted = !d.answered
	}
	return e
}

// Error is a failure of one chip.
type Error struct {
	// Device names it: "ina219 on i2c bus 1 addr 0x40".
	Device string
	// Op is what was being done: "open", "init", "read".
	Op string
	// NoAnswer: the chip did not acknowledge its address.
	NoAnswer bool
	// NotFitted: the bus does not exist, or the chip has not answered since
	// the process started; the error matches sensors.ErrNotFitted.
	NotFitted bool
	Err       error
}

// NoAnswerHint is what to check when a chip does not acknowledge.
const NoAnswerHint = "is it wired, powered, and is the address right?"

func (e *Error) Error() string {
	var be *BusError
	switch {
	case e.NoAnswer:
		return fmt.Sprintf("%s: no answer (%s): %v", e.Device, NoAnswerHint, e.Err)
	case errors.As(e.Err, &be):
		return fmt.Sprintf("%s: %v", e.Device, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Device, e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes a chip or bus that is not there match sensors.ErrNotFitted.
func (e *Error) Is(target error) bool {
	return e.NotFitted && target == sensors.ErrNotFitted
}

// noAnswerTexts are the errno texts Linux's i2c-dev gives for a NACK of the
// address: EREMOTEIO (bcm2835, designware), ENXIO (i801 and most SMBus
// controllers). periph formats the errno with %v, so it is matched as text.
var noAnswerTexts = []string{"remote I/O error", "no such device or address"}

// IsNoAnswer reports whether err is a chip that did not acknowledge.
func IsNoAnswer(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, t := range noAnswerTexts {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}

// withCause puts the bus error last dropped back into err's chain. Its
// text is added only when err does not already show it (bmxx80 formats it
// with %v, ina219 replaces it).
func withCause(err, last error) error {
	text := err.Error()
	if !strings.Contains(text, last.Error()) {
		text += ": " + last.Error()
	}
	// bmxx80 prefixes its errors with the chip's name, which is empty
	// until the chip id has been read: ": sysfs-i2c: …".
	text = strings.TrimPrefix(text, ": ")
	return &causeError{text: text, errs: []error{err, last}}
}

type causeError struct {
	text string
	errs []error
}

func (e *causeError) Error() string   { return e.text }
func (e *causeError) Unwrap() []error { return e.errs }

// tracker is the bus the drivers see: it remembers the last failed
// transaction, because some periph drivers drop the bus error.
type tracker struct {
	i2c.Bus
	mu   sync.Mutex
	last error
}

func (t *tracker) Tx(addr uint16, w, r []byte) error {
	err := t.Bus.Tx(addr, w, r)
	if err != nil {
		t.mu.Lock()
		t.last = err
		t.mu.Unlock()
	}
	return err
}

func (t *tracker) SetSpeed(f physic.Frequency) error { return t.Bus.SetSpeed(f) }

func (t *tracker) String() string { return t.Bus.String() }

// take returns the last failure and forgets it.
func (t *tracker) take() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.last
	t.last = nil
	return err
}
