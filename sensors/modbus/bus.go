package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/karana-energy/karana-edge/sensors"
)

// link is one serial port or TCP endpoint as the sensors on it share it.
type link struct {
	URL      string // simonvetter's form: "rtu:///dev/ttyUSB0", "tcp://h:502"
	Name     string // for errors: "/dev/ttyUSB0", "tcp://h:502"
	Speed    uint
	DataBits uint
	Parity   uint
	StopBits uint
	Timeout  time.Duration
}

func (o *Options) link() link {
	if o.Port != "" {
		return link{
			URL: "rtu://" + o.Port, Name: o.Port,
			Speed: uint(o.Baud), DataBits: uint(o.DataBits), Parity: parities[upper(o.Parity)], StopBits: uint(o.StopBits),
			Timeout: o.RequestTimeout.Duration,
		}
	}
	scheme, hp, _ := parseURL(o.URL)
	return link{URL: scheme + "://" + hp, Name: o.URL, Timeout: o.RequestTimeout.Duration}
}

func upper(s string) string {
	if len(s) == 1 && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0] - 'a' + 'A')
	}
	return s
}

// settings prints the serial settings for a mismatch error: "9600 8N1".
func (l link) settings() string {
	if l.Speed == 0 {
		return "TCP"
	}
	return fmt.Sprintf("%d %d%c%d", l.Speed, l.DataBits, "NEO"[l.Parity], l.StopBits)
}

// Bus is one shared connection: every sensor on a port (or TCP endpoint)
// holds the same Bus, whose requests go one at a time. Modbus RTU is
// half-duplex with one master; the library keeps the 3.5-character silent
// interval between frames, which it can only do for frames it sends
// itself, so one client per port, never one per sensor.
type Bus struct {
	link link
	key  string        // in buses
	sem  chan struct{} // one request at a time; a waiter honours its ctx

	// Under sem:
	client   *mb.ModbusClient
	fails    int       // consecutive failed opens or I/O errors
	retryAt  time.Time // no reopen before this after a failure
	lastErr  error
	now      func() time.Time
	warnedTO bool
	opened   bool // the port has been open once: from then on a missing one was unplugged

	refs int // under busesMu
}

var (
	busesMu sync.Mutex
	buses   = map[string]*Bus{}
)

// errSettings is returned when sensors disagree on one port's settings.
var errSettings = errors.New("sensors on one bus disagree")

// busKey names the physical bus: a serial port by its device, so that
// /dev/ttyUSB0 and its /dev/serial/by-id link are one bus, not two that
// would interleave frames on one wire.
func busKey(l link) string {
	if l.Speed == 0 {
		return l.URL
	}
	dev := strings.TrimPrefix(l.URL, "rtu://")
	if real, err := filepath.EvalSymlinks(dev); err == nil {
		dev = real
	}
	return "rtu://" + dev
}

// acquire returns the shared Bus for l, opening nothing yet.
func acquire(l link) (*Bus, error) {
	busesMu.Lock()
	defer busesMu.Unlock()
	k := busKey(l)
	if b, ok := buses[k]; ok {
		if b.link.settings() != l.settings() {
			return nil, fmt.Errorf("%s is already used at %s by another sensor or output, this one wants %s: %w (all sensors and outputs on one port need the same baud, data_bits, parity and stop_bits)", l.Name, b.link.settings(), l.settings(), errSettings)
		}
		if b.link.Timeout != l.Timeout && !b.warnedTO {
			b.warnedTO = true
			slog.Warn("modbus: sensors on one bus set different request_timeout; the first one's applies", "bus", l.Name, "using", b.link.Timeout, "ignored", l.Timeout)
		}
		b.refs++
		return b, nil
	}
	b := &Bus{link: l, key: k, sem: make(chan struct{}, 1), now: time.Now, refs: 1}
	buses[k] = b
	return b, nil
}

// release drops one sensor's hold; the last one closes the connection.
func (b *Bus) release() {
	busesMu.Lock()
	b.refs--
	last := b.refs == 0
	if last && buses[b.key] == b {
		delete(buses, b.key)
	}
	busesMu.Unlock()
	if last {
		b.sem <- struct{}{}
		b.closeClient()
		<-b.sem
	}
}

// Backoff between reopen attempts after the port vanished or refused
// (variables so that tests need not wait seconds).
var (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

// open connects if needed, under sem. After a failure it waits out a
// backoff, so an unplugged adapter costs a stat a few times a minute,
// not a busy loop, and comes back by itself when it is plugged in again.
func (b *Bus) open() error {
	if b.client != nil {
		return nil
	}
	if now := b.now(); now.Before(b.retryAt) {
		return fmt.Errorf("%s closed after an error, next open attempt in %s: %w", b.link.Name, b.retryAt.Sub(now).Round(time.Millisecond), b.lastErr)
	}
	c, err := mb.NewClient(&mb.ClientConfiguration{
		URL: b.link.URL, Speed: b.link.Speed, DataBits: b.link.DataBits, Parity: b.link.Parity, StopBits: b.link.StopBits,
		Timeout: b.link.Timeout,
		Logger:  log.New(io.Discard, "", 0), // errors come back to us; its own log lines would only repeat them
	})
	if err == nil {
		err = c.Open()
	}
	if err != nil {
		if !b.opened && errors.Is(err, fs.ErrNotExist) {
			// No such adapter and never was: an optional device not on this
			// box, reported quietly as the vedirect driver does.
			err = errors.Join(err, sensors.ErrNotFitted)
		}
		b.failed(err)
		return fmt.Errorf("open %s: %w", b.link.Name, err)
	}
	b.opened = true
	if b.fails > 0 {
		slog.Info("modbus: bus open again", "bus", b.link.Name, "after_failures", b.fails)
	}
	b.client, b.fails, b.retryAt = c, 0, time.Time{}
	return nil
}

func (b *Bus) failed(err error) {
	b.fails++
	b.lastErr = err
	d := backoffMin << min(b.fails-1, 5)
	b.retryAt = b.now().Add(min(d, backoffMax))
}

func (b *Bus) closeClient() {
	if b.client != nil {
		_ = b.client.Close()
		b.client = nil
	}
}

// lock takes the bus for one request, or gives up when ctx ends.
func (b *Bus) lock(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s (another request on it): %w", b.link.Name, ctx.Err())
	}
}

func (b *Bus) unlock() { <-b.sem }

// read runs one request for unit and returns registers (bits as 0/1).
func (b *Bus) read(ctx context.Context, unit uint8, sp span) ([]uint16, error) {
	var regs []uint16
	err := b.do(ctx, unit, sp, false, func() (err error) {
		regs, err = b.request(unit, sp)
		return err
	})
	return regs, err
}

// do runs one request on the bus, opened if need be; a failure is an
// *Error naming the request.
func (b *Bus) do(ctx context.Context, unit uint8, sp span, write bool, req func() error) error {
	if err := b.lock(ctx); err != nil {
		return err
	}
	defer b.unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.open(); err != nil {
		return err
	}
	err := b.client.SetUnitId(unit)
	if err == nil {
		err = req()
	}
	if err != nil {
		err = &Error{Bus: b.link.Name, Unit: unit, Span: sp, Write: write, Err: err}
		if linkLost(err) {
			// The port vanished (USB adapter pulled) or the TCP peer went:
			// reopen on a later request, after the backoff.
			b.closeClient()
			b.failed(err)
		} else if timedOut(err) && b.link.Speed == 0 {
			// A late answer on a TCP stream could land mid-frame in the
			// next one: a fresh connection costs one handshake.
			b.closeClient()
		}
	}
	return err
}

func (b *Bus) request(unit uint8, sp span) ([]uint16, error) {
	switch sp.table {
	case holding:
		return b.client.ReadRegisters(sp.start, sp.count, mb.HOLDING_REGISTER)
	case input:
		return b.client.ReadRegisters(sp.start, sp.count, mb.INPUT_REGISTER)
	}
	var bits []bool
	var err error
	if sp.table == coil {
		bits, err = b.client.ReadCoils(sp.start, sp.count)
	} else {
		bits, err = b.client.ReadDiscreteInputs(sp.start, sp.count)
	}
	regs := make([]uint16, len(bits))
	for i, v := range bits {
		if v {
			regs[i] = 1
		}
	}
	return regs, err
}

// Error is a failed request, naming the bus, the unit, the registers and
// the Modbus exception.
type Error struct {
	Bus  string
	Unit uint8
	Span span
	// Write: the request wrote Span (a modbus output), not read it.
	Write bool
	Err   error
}

func (e *Error) Error() string {
	verb, at := "reading", "at"
	if e.Write {
		verb, at = "writing", "writing"
	}
	switch {
	case isException(e.Err):
		// "illegal data address at input register 0x3110 of unit 2 on /dev/ttyUSB0"
		return fmt.Sprintf("%v %s %s of unit %d on %s", e.Err, at, e.Span, e.Unit, e.Bus)
	case errors.Is(e.Err, mb.ErrRequestTimedOut):
		return fmt.Sprintf("no answer from unit %d on %s (%s %s): %v", e.Unit, e.Bus, verb, e.Span, e.Err)
	}
	return fmt.Sprintf("unit %d on %s, %s %s: %v", e.Unit, e.Bus, verb, e.Span, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var exceptions = []error{
	mb.ErrIllegalFunction, mb.ErrIllegalDataAddress, mb.ErrIllegalDataValue,
	mb.ErrServerDeviceFailure, mb.ErrAcknowledge, mb.ErrServerDeviceBusy,
	mb.ErrMemoryParityError, mb.ErrGWPathUnavailable, mb.ErrGWTargetFailedToRespond,
}

// isException reports whether err is a Modbus exception response: the
// device answered and refused.
func isException(err error) bool {
	for _, x := range exceptions {
		if errors.Is(err, x) {
			return true
		}
	}
	return false
}

// timedOut reports whether the unit did not answer.
func timedOut(err error) bool { return errors.Is(err, mb.ErrRequestTimedOut) }

// linkLost reports an error of the port or connection itself, as distinct
// from a unit that is silent or refuses, or a garbled frame (which the
// library has already flushed).
func linkLost(err error) bool {
	if isException(err) || timedOut(err) {
		return false
	}
	for _, x := range []error{mb.ErrBadCRC, mb.ErrShortFrame, mb.ErrProtocolError, mb.ErrBadUnitId, mb.ErrBadTransactionId, mb.ErrUnknownProtocolId, mb.ErrUnexpectedParameters} {
		if errors.Is(err, x) {
			return false
		}
	}
	return true
}
