// Package i2cbustest holds the fakes the I2C driver tests share: an Opener
// that hands out prepared buses (usually i2ctest.Playback), a bus where
// nothing answers, and a wrapper that fails chosen transactions the way the
// kernel does.
package i2cbustest

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// NACK is the error periph's sysfs-i2c returns on a Pi when no chip
// acknowledges the address (EREMOTEIO formatted with %v).
var NACK = errors.New("sysfs-i2c: remote I/O error")

// ErrNoBus is i2creg.Open's error on a machine without any I2C bus.
var ErrNoBus = errors.New("i2creg: no bus found; did you forget to call Init()?")

// Opener hands out Buses in order, one per Open, and records the names it
// was asked for. When none is left (or Err is set) it fails.
type Opener struct {
	mu    sync.Mutex
	Buses []i2c.BusCloser
	Err   error
	Names []string
}

// Open is an i2cbus.Opener.
func (o *Opener) Open(name string) (i2c.BusCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Names = append(o.Names, name)
	if o.Err != nil {
		return nil, o.Err
	}
	if len(o.Buses) == 0 {
		return nil, fmt.Errorf("i2cbustest: open %q: no bus left to hand out", name)
	}
	b := o.Buses[0]
	o.Buses = o.Buses[1:]
	return b, nil
}

// Opens returns how many times Open was called.
func (o *Opener) Opens() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.Names)
}

// Dead is a bus on which no chip answers.
type Dead struct {
	mu     sync.Mutex
	Tries  int
	Closed bool
}

func (d *Dead) String() string { return "dead" }

func (d *Dead) Tx(addr uint16, w, r []byte) error {
	d.mu.Lock()
	d.Tries++
	d.mu.Unlock()
	return NACK
}

func (d *Dead) SetSpeed(physic.Frequency) error { return nil }

func (d *Dead) Close() error {
	d.mu.Lock()
	d.Closed = true
	d.mu.Unlock()
	return nil
}

// Fail wraps a bus and fails transaction number At (counting from 0) with
// Err without passing it on, so a Playback can list only the transactions
// that reach the chip.
type Fail struct {
	i2c.BusCloser
	At  int
	Err error

	mu sync.Mutex
	n  int
}

func (f *Fail) Tx(addr uint16, w, r []byte) error {
	f.mu.Lock()
	n := f.n
	f.n++
	f.mu.Unlock()
	if n == f.At {
		return f.Err
	}
	return f.BusCloser.Tx(addr, w, r)
}

// Chips is a bus where the listed addresses acknowledge any transaction
// (reads return zeros) and every other address NACKs; for scanning.
type Chips struct {
	Addrs map[uint16]bool
	// Seen lists every address probed, in order.
	Seen []uint16
	// Reads and Writes count transactions that read or wrote.
	Reads, Writes int
}

func (c *Chips) String() string { return "chips" }

func (c *Chips) Tx(addr uint16, w, r []byte) error {
	c.Seen = append(c.Seen, addr)
	if len(w) > 0 {
		c.Writes++
	}
	if len(r) > 0 {
		c.Reads++
	}
	if !c.Addrs[addr] {
		return NACK
	}
	clear(r)
	return nil
}

func (c *Chips) SetSpeed(physic.Frequency) error { return nil }

func (c *Chips) Close() error { return nil }
