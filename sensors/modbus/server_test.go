package modbus

import (
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"
)

// device is an in-process Modbus TCP server holding register images per
// unit. A read touching a register the image lacks gets exception 2
// (illegal data address), as strict devices answer; a unit in silent
// never answers (the handler waits past the client's timeout).
type device struct {
	mu      sync.Mutex
	units   map[uint8]map[table]map[uint16]uint16
	silent  map[uint8]bool
	reqs    atomic.Int64
	clients sync.Map // client address → true
	busy    atomic.Int32
	overlap atomic.Bool  // two requests were served at once
	maxQty  atomic.Int32 // the largest request's register count
	srv     *mb.ModbusServer
	url     string
}

func newDevice(t *testing.T) *device {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &device{units: map[uint8]map[table]map[uint16]uint16{}, silent: map[uint8]bool{}, url: "tcp://" + addr}
	d.srv, err = mb.NewServer(&mb.ServerConfiguration{URL: d.url, Timeout: 10 * time.Second, MaxClients: 8, Logger: log.New(io.Discard, "", 0)}, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.srv.Stop() })
	return d
}

// set puts registers from addr on unit's table.
func (d *device) set(unit uint8, tb table, addr uint16, regs ...uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.units[unit] == nil {
		d.units[unit] = map[table]map[uint16]uint16{}
	}
	if d.units[unit][tb] == nil {
		d.units[unit][tb] = map[uint16]uint16{}
	}
	for i, r := range regs {
		d.units[unit][tb][addr+uint16(i)] = r
	}
}

func (d *device) regs(client string, unit uint8, tb table, addr, n uint16) ([]uint16, error) {
	d.reqs.Add(1)
	d.clients.Store(client, true)
	if q := int32(n); q > d.maxQty.Load() {
		d.maxQty.Store(q)
	}
	if d.busy.Add(1) > 1 {
		d.overlap.Store(true)
	}
	defer d.busy.Add(-1)
	d.mu.Lock()
	silent := d.silent[unit]
	img := d.units[unit][tb]
	out := make([]uint16, n)
	var err error
	for i := range out {
		v, ok := img[addr+uint16(i)]
		if !ok {
			err = mb.ErrIllegalDataAddress
		}
		out[i] = v
	}
	d.mu.Unlock()
	if silent {
		time.Sleep(400 * time.Millisecond)
		return nil, mb.ErrServerDeviceBusy
	}
	if d.units[unit] == nil {
		return nil, mb.ErrGWTargetFailedToRespond
	}
	return out, err
}

// write stores a write request's values on unit's table; an address the
// image lacks gets exception 2, as for a read.
func (d *device) write(unit uint8, tb table, addr uint16, vals []uint16) error {
	d.reqs.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	img := d.units[unit][tb]
	for i := range vals {
		if _, ok := img[addr+uint16(i)]; !ok {
			return mb.ErrIllegalDataAddress
		}
	}
	for i, v := range vals {
		img[addr+uint16(i)] = v
	}
	return nil
}

// get is what the device holds at unit's table addr, for a test to check
// a write on the server's side.
func (d *device) get(unit uint8, tb table, addr uint16) uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.units[unit][tb][addr]
}

func (d *device) HandleCoils(r *mb.CoilsRequest) ([]bool, error) {
	if r.IsWrite {
		vals := make([]uint16, len(r.Args))
		for i, b := range r.Args {
			if b {
				vals[i] = 1
			}
		}
		return nil, d.write(r.UnitId, coil, r.Addr, vals)
	}
	regs, err := d.regs(r.ClientAddr, r.UnitId, coil, r.Addr, r.Quantity)
	return bools(regs), err
}

func (d *device) HandleDiscreteInputs(r *mb.DiscreteInputsRequest) ([]bool, error) {
	regs, err := d.regs(r.ClientAddr, r.UnitId, discrete, r.Addr, r.Quantity)
	return bools(regs), err
}

func (d *device) HandleHoldingRegisters(r *mb.HoldingRegistersRequest) ([]uint16, error) {
	if r.IsWrite {
		return nil, d.write(r.UnitId, holding, r.Addr, r.Args)
	}
	return d.regs(r.ClientAddr, r.UnitId, holding, r.Addr, r.Quantity)
}

func (d *device) HandleInputRegisters(r *mb.InputRegistersRequest) ([]uint16, error) {
	return d.regs(r.ClientAddr, r.UnitId, input, r.Addr, r.Quantity)
}

func bools(regs []uint16) []bool {
	out := make([]bool, len(regs))
	for i, r := range regs {
		out[i] = r != 0
	}
	return out
}

func (d *device) connections() int {
	n := 0
	d.clients.Range(func(any, any) bool { n++; return true })
	return n
}

func (d *device) String() string { return fmt.Sprintf("device %s", d.url) }
