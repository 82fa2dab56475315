package sensors

import (
	"context"
	"errors"
	"time"
)

// Value is one field of a sensor's read. The sampler names the series
// "<sensor>.<field>" ("battery.voltage").
type Value struct {
	Field string
	Value float64
	Unit  string
}

// Sensor is one configured sensor.
type Sensor interface {
	// Read samples the sensor once. It honours ctx's deadline.
	Read(ctx context.Context) ([]Value, error)
	// Close releases the sensor's bus or pins. Read may be called again after
	// Close and must then re-open them.
	Close() error
}

// Sleep waits d or until ctx ends, returning ctx's error then. Drivers use
// it for conversion times and settling delays, so that a read's timeout is
// honoured.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNotFitted is returned (wrapped) by a sensor that is not present on this
// box at all (no such bus, nothing at that address), as distinct from one that
// is present but failing. The sampler logs it quietly, once.
var ErrNotFitted = errors.New("not fitted")

// The optional interfaces below are implemented by a driver's options struct
// (the pointer Options returned) so that board validation and the agent can
// see what a sensor uses without knowing the driver.

// BusUser is an options struct that names the bus it uses ("1", "SPI0.1", "w1").
type BusUser interface {
	BusName() string
}

// SerialPortUser is an options struct that names the serial device it
// opens ("/dev/ttyUSB0", "/dev/serial0"), so that check can warn when it is
// the login console, whatever the driver (vedirect, modbus RTU).
type SerialPortUser interface {
	SerialPort() string
}

// PinUser is an options struct that names the GPIO pins it uses ("GPIO17").
type PinUser interface {
	PinNames() []string
}

// LocalOnly is an options struct of a driver that may be configured in the
// local config file only, never by a remote config document: it runs
// programs (exec) or otherwise reaches beyond reading a sensor, so a
// compromised or mistaken remote config must not be able to add one.
type LocalOnly interface {
	LocalOnly()
}

// Identifier is a Sensor that learns what device it reads (a product id,
// serial number, firmware) from the device itself; `karana-edge read`
// shows it after the read. "" while unknown.
type Identifier interface {
	Identity() string
}

// State is a small persisted key/value store for a sensor's running state
// (a pulse counter's total). Values set are persisted with the buffer's next
// group commit, so they survive a power cut exactly as readings do.
type State interface {
	Get(key string) ([]byte, bool)
	Set(key string, value []byte)
}

// Stateful is a Sensor that keeps state across restarts. The agent calls
// Restore once, before the first Read, with a State scoped to the sensor.
type Stateful interface {
	Restore(st State) error
}
