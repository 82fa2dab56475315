// Package spibus is what the SPI sensor drivers share, as package i2cbus is
// for I2C: the option keys every SPI driver has (Options: bus and
// speed_hz), and one chip on a port (Device), opened on first read, closed
// on repeated failure and opened again by the next read, with errors that
// name the driver and the port:
//
//	max31855 on SPI0.1: thermocouple open circuit (OC) (cold junction 24.5 °C)
//	mcp3008 on SPI0.0: no such SPI port on this box (ports: SPI0.0; SPI0.1 is chip select CE1): not fitted
//
// A port that does not exist, or SPI not enabled at all, matches
// sensors.ErrNotFitted. Ports are opened through package
// sensors/internal/hw, so periph's host drivers are initialised by the
// first read, never by `karana-edge check`.
//
// Tests register fake ports under made-up names with spireg.Register (an
// spitest.Playback behind each) and set hw.HostInit to a no-op, so the
// machine's own ports are never seen.
package spibus

import (
	"context"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
)

// DefaultBus is bus 0, chip select CE0 (header pin 24).
const DefaultBus = "SPI0.0"

// minSpeed is the slowest clock accepted: slower only stretches a read.
const minSpeed = 10_000

// Options are the keys every SPI driver has. Drivers embed it (untagged) in
// their own options struct, so the keys sit inline in the [[sensor]] table
// and the struct implements sensors.BusUser.
type Options struct {
	// Bus is the SPI port: "SPI0.0" is bus 0, chip select CE0; "SPI0.1"
	// CE1. Each driver defaults it to DefaultBus.
	Bus string `toml:"bus"`
	// SpeedHz is the SPI clock. Each driver sets its default (1 MHz) and
	// its chip's maximum.
	SpeedHz int64 `toml:"speed_hz"`
}

// BusName implements sensors.BusUser: the port as written ("SPI0.1").
func (o Options) BusName() string { return o.Bus }

// Validate adds errors for an empty bus and a clock beyond maxHz, the
// chip's maximum; why says when that maximum holds ("at VDD 5 V").
func (o Options) Validate(errs *config.FieldErrors, chip string, maxHz int64, why string) {
	if o.Bus == "" {
		errs.Add("bus", `must be set, e.g. %q`, DefaultBus)
	}
	if o.SpeedHz < minSpeed || o.SpeedHz > maxHz {
		if why != "" {
			why = " " + why
		}
		errs.Add("speed_hz", "must be between %d and %d (the %s's maximum%s), got %d", minSpeed, maxHz, chip, why, o.SpeedHz)
	}
}

// Device is one chip on an SPI port, in mode 0 with 8-bit words. Read runs
// each of a driver's reads, opening the port when it is closed; Close
// closes it, and the next Read opens it again. Read and Close hold the
// device's lock, so a driver needs none of its own for the port.
type Device struct {
	// Driver is the registered driver name, for messages ("max31855").
	Driver string
	// Port is the port as configured ("SPI0.1").
	Port string
	// SpeedHz is the clock the port is connected at.
	SpeedHz int64

	mu   sync.Mutex // held by Read and Close
	port spi.PortCloser
	conn spi.Conn
}

// String names the device as its errors do: "max31855 on SPI0.1".
func (d *Device) String() string { return d.Driver + " on " + d.Port }

// Read runs read with the port's connection, under the device's lock,
// opening the port first when it is closed. Open errors are wrapped by Err.
func (d *Device) Read(ctx context.Context, read func(context.Context, spi.Conn) ([]sensors.Value, error)) ([]sensors.Value, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	conn, err := d.open()
	if err != nil {
		return nil, err
	}
	return read(ctx, conn)
}

// open returns the connection, opening the port when it is closed.
func (d *Device) open() (spi.Conn, error) {
	if d.conn != nil {
		return d.conn, nil
	}
	p, err := hw.OpenSPI(d.Port)
	if err != nil {
		return nil, d.Err("", err)
	}
	c, err := p.Connect(physic.Frequency(d.SpeedHz)*physic.Hertz, spi.Mode0, 8)
	if err != nil {
		_ = p.Close()
		return nil, d.Err(fmt.Sprintf("connect at %d Hz, mode 0", d.SpeedHz), err)
	}
	d.port, d.conn = p, c
	return c, nil
}

// Close closes the port, if open; the next Read opens it again.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.port == nil {
		return nil
	}
	err := d.port.Close()
	d.port, d.conn = nil, nil
	return d.Err("close", err)
}

// Err wraps err, which happened during op ("close", "channel 3"; "" for
// the read itself), naming the device: "mcp3008 on SPI0.0: channel 3: …".
func (d *Device) Err(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case op == "":
		return fmt.Errorf("%s: %w", d, err)
	}
	return fmt.Errorf("%s: %s: %w", d, op, err)
}
