package outputs

import (
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/karana-energy/karana-edge/config"
)

// relayBoard is an in-process Modbus TCP server (simonvetter's): coils and
// holding registers of unit 1 that exist take writes; any other address
// gets exception 2, illegal data address.
type relayBoard struct {
	mu     sync.Mutex
	coils  map[uint16]bool
	regs   map[uint16]uint16
	writes int
	url    string
}

func newRelayBoard(t *testing.T) *relayBoard {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &relayBoard{coils: map[uint16]bool{}, regs: map[uint16]uint16{}, url: "tcp://" + addr}
	srv, err := mb.NewServer(&mb.ServerConfiguration{URL: r.url, Timeout: 10 * time.Second, MaxClients: 4, Logger: log.New(io.Discard, "", 0)}, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return r
}

func (r *relayBoard) HandleCoils(q *mb.CoilsRequest) ([]bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.coils[q.Addr]; !ok || q.UnitId != 1 || q.Quantity != 1 {
		return nil, mb.ErrIllegalDataAddress
	}
	if !q.IsWrite {
		return []bool{r.coils[q.Addr]}, nil
	}
	r.writes++
	r.coils[q.Addr] = q.Args[0]
	return nil, nil
}

func (r *relayBoard) HandleHoldingRegisters(q *mb.HoldingRegistersRequest) ([]uint16, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.regs[q.Addr]; !ok || q.UnitId != 1 || q.Quantity != 1 {
		return nil, mb.ErrIllegalDataAddress
	}
	if !q.IsWrite {
		return []uint16{r.regs[q.Addr]}, nil
	}
	r.writes++
	r.regs[q.Addr] = q.Args[0]
	return nil, nil
}

func (r *relayBoard) HandleDiscreteInputs(*mb.DiscreteInputsRequest) ([]bool, error) {
	return nil, mb.ErrIllegalFunction
}

func (r *relayBoard) HandleInputRegisters(*mb.InputRegistersRequest) ([]uint16, error) {
	return nil, mb.ErrIllegalFunction
}

func (r *relayBoard) coil(a uint16) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.coils[a], r.writes
}

func (r *relayBoard) reg(a uint16) uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.regs[a]
}

func modbusConfig(url, table string, addr int) Config {
	c := DefaultConfig()
	c.Name, c.Driver, c.On = "relay", "modbus", "true"
	c.URL, c.Table, c.Address = url, table, ptr(addr)
	c.RequestTimeout = config.D(500 * time.Millisecond)
	return c
}

func openOutput(t *testing.T, c Config, now time.Time) (*Output, error) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	drv, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := New(c, drv, now)
	t.Cleanup(func() { o.Shutdown(now) })
	return o, err
}

// A coil output: the safe state is written at start, every switch writes
// the coil (the board's own image says so), min_switch holds, and
// shutdown writes the safe state again.
func TestModbusCoilOutput(t *testing.T) {
	board := newRelayBoard(t)
	board.coils[3] = true // whatever the relay was left at
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := modbusConfig(board.url, "coil", 3)
	c.MinSwitch = config.D(time.Minute)
	o, err := openOutput(t, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := board.coil(3); on {
		t.Fatal("safe off at start left the coil ON")
	}
	if _, did, _ := o.Drive(true, t0.Add(30*time.Second), "x"); did {
		t.Fatal("switched inside min_switch")
	}
	if on, _ := board.coil(3); on {
		t.Fatal("a held switch wrote the coil")
	}
	sw, did, err := o.Drive(true, t0.Add(time.Minute), "x")
	if err != nil || !did || !sw.On {
		t.Fatalf("switch on: %v %v %+v", err, did, sw)
	}
	if on, _ := board.coil(3); !on {
		t.Fatal("switched on, coil still OFF")
	}
	_, n := board.coil(3)
	if _, did, err := o.Drive(true, t0.Add(2*time.Minute), "x"); did || err != nil {
		t.Fatalf("same state: %v %v", did, err)
	}
	if _, m := board.coil(3); m != n {
		t.Error("driving the state the output is in wrote again")
	}
	if _, changed, err := o.Shutdown(t0.Add(3 * time.Minute)); err != nil || !changed {
		t.Fatalf("shutdown: %v %v", changed, err)
	}
	if on, _ := board.coil(3); on {
		t.Fatal("shutdown left the coil ON")
	}
}

// A holding register output writes on_value and off_value.
func TestModbusHoldingOutput(t *testing.T) {
	board := newRelayBoard(t)
	board.regs[0x0100] = 7
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := modbusConfig(board.url, "holding", 0x100)
	c.OnValue, c.OffValue = ptr(0x55), ptr(0xAA)
	o, err := openOutput(t, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	if v := board.reg(0x100); v != 0xAA {
		t.Fatalf("safe off at start: register = %#x, want off_value 0xaa", v)
	}
	if _, did, err := o.Drive(true, t0, "x"); err != nil || !did {
		t.Fatal(did, err)
	}
	if v := board.reg(0x100); v != 0x55 {
		t.Fatalf("on: register = %#x, want on_value 0x55", v)
	}
}

// A write the device refuses: a named error, no state claimed, no reading;
// the next Drive writes again, and once the device takes it the reading
// comes (at start: the safe state the start could not set).
func TestModbusRefusedWriteClaimsNothing(t *testing.T) {
	board := newRelayBoard(t)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o, err := openOutput(t, modbusConfig(board.url, "coil", 9), t0)
	if !errors.Is(err, mb.ErrIllegalDataAddress) || err.Error() != "output relay: illegal data address writing coil 0x0009 of unit 1 on "+board.url {
		t.Fatalf("start on a coil the board lacks: %v", err)
	}
	sw, did, err := o.Safe(t0.Add(time.Second), "")
	if did || err == nil || !strings.Contains(err.Error(), "coil 0x0009") {
		t.Fatalf("safe again, coil still missing: %v %v %+v", did, err, sw)
	}
	sw, did, err = o.Drive(true, t0.Add(2*time.Second), "x")
	if did || err == nil || o.On() {
		t.Fatalf("on refused: switched %v, err %v, On() %v", did, err, o.On())
	}
	board.mu.Lock()
	board.coils[9] = true // the board is fixed, its relay left ON
	board.mu.Unlock()
	sw, did, err = o.Safe(t0.Add(3*time.Second), "")
	if err != nil || !did || sw.On || !strings.Contains(sw.Cause, "after a failed write") {
		t.Fatalf("safe once the board takes it: %v %v %+v", err, did, sw)
	}
	if on, _ := board.coil(9); on {
		t.Fatal("coil still ON after the safe state was written")
	}
	if _, did, _ := o.Safe(t0.Add(4*time.Second), ""); did {
		t.Fatal("the recovered state was reported twice")
	}
}

// Shutdown whose write fails claims no switch.
func TestModbusShutdownFailureClaimsNothing(t *testing.T) {
	board := newRelayBoard(t)
	board.coils[1] = false
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o, err := openOutput(t, modbusConfig(board.url, "coil", 1), t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, did, err := o.Drive(true, t0, "x"); err != nil || !did {
		t.Fatal(did, err)
	}
	board.mu.Lock()
	delete(board.coils, 1)
	board.mu.Unlock()
	if _, changed, err := o.Shutdown(t0.Add(time.Second)); changed || err == nil {
		t.Fatalf("shutdown with the write refused: changed %v, err %v", changed, err)
	}
}

// A device that does not answer: the error names the unit, the bus and
// the coil.
func TestModbusNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := modbusConfig("tcp://"+ln.Addr().String(), "coil", 4)
	c.RequestTimeout = config.D(50 * time.Millisecond)
	_, err = openOutput(t, c, time.Now())
	if err == nil || !strings.Contains(err.Error(), "no answer from unit 1 on tcp://"+ln.Addr().String()+" (writing coil 0x0004)") {
		t.Fatalf("silent device: %v", err)
	}
}

// After a failed write the same state leaves the bus alone for
// modbusRetry (the engine drives at every reading), then is written again;
// another state is written at once.
func TestModbusRetryWaits(t *testing.T) {
	board := newRelayBoard(t)
	c := modbusConfig(board.url, "coil", 2)
	drv, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	d := drv.(*modbusOut)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	first := d.Set(true)
	if first == nil {
		t.Fatal("write to a coil the board lacks succeeded")
	}
	board.mu.Lock()
	board.coils[2] = false
	board.mu.Unlock()
	now = now.Add(modbusRetry - time.Millisecond)
	if err := d.Set(true); err != first {
		t.Fatalf("retry inside modbusRetry: %v, want the first error again", err)
	}
	if on, n := board.coil(2); on || n != 0 {
		t.Fatalf("retry inside modbusRetry reached the board: coil %v, %d writes", on, n)
	}
	now = now.Add(time.Millisecond)
	if err := d.Set(true); err != nil {
		t.Fatalf("retry after modbusRetry: %v", err)
	}
	if on, n := board.coil(2); !on || n != 1 {
		t.Fatalf("retry after modbusRetry: coil %v, %d writes", on, n)
	}
	// A failed off, then on at once: on is another state, tried now.
	board.mu.Lock()
	delete(board.coils, 2)
	board.mu.Unlock()
	if err := d.Set(false); err == nil {
		t.Fatal("write to a removed coil succeeded")
	}
	board.mu.Lock()
	board.coils[2] = false
	board.mu.Unlock()
	if err := d.Set(true); err != nil {
		t.Fatalf("another state inside modbusRetry: %v", err)
	}
	if on, _ := board.coil(2); !on {
		t.Fatal("another state inside modbusRetry was not written")
	}
}
