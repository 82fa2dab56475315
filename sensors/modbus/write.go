package modbus

import (
	"context"

	"github.com/karana-energy/karana-edge/config"
)

// This file is the part of the bus that a modbus output (package outputs)
// uses: it writes a coil or a holding register on the same Bus as the
// sensors on that port, so that one client owns the wire and its requests
// go one at a time with the silent interval between frames.

// ValidateLink checks the keys that name a bus (port with baud, data_bits,
// parity, stop_bits; or url), unit_id and request_timeout, as a sensor's;
// the errors' keys are those keys.
func (o *Options) ValidateLink(errs *config.FieldErrors) { o.validateLink(errs) }

// AcquireBus returns the Bus of o's port or endpoint, shared with every
// sensor and output on it; nothing is opened until the first request. o's
// link keys must be valid (ValidateLink). Release it when done.
func AcquireBus(o Options) (*Bus, error) { return acquire(o.link()) }

// Release drops one hold on the bus; the last one closes the connection.
func (b *Bus) Release() { b.release() }

// Name is the bus as errors name it: the serial device or the URL.
func (b *Bus) Name() string { return b.link.Name }

// WriteCoil sets coil addr of unit (function 05, write single coil). The
// device's answer echoes the value it took; an exception comes back as an
// *Error naming the bus, the unit, the coil and the exception.
func (b *Bus) WriteCoil(ctx context.Context, unit uint8, addr uint16, on bool) error {
	return b.do(ctx, unit, span{table: coil, start: addr, count: 1}, true, func() error {
		return b.client.WriteCoil(addr, on)
	})
}

// WriteRegister sets holding register addr of unit to v (function 06,
// write single register), with errors as WriteCoil's.
func (b *Bus) WriteRegister(ctx context.Context, unit uint8, addr uint16, v uint16) error {
	return b.do(ctx, unit, span{table: holding, start: addr, count: 1}, true, func() error {
		return b.client.WriteRegister(addr, v)
	})
}
