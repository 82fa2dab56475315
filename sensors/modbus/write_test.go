package modbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"
)

func acquireBus(t *testing.T, o *Options) *Bus {
	t.Helper()
	b, err := AcquireBus(*o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Release)
	return b
}

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A write lands in the device's own image (function 05: coil ON/OFF;
// function 06: the register's value), an exception comes back by name with
// the coil, the unit and the bus, and the writer shares the sensors' bus:
// one connection for both.
func TestWriteInProcess(t *testing.T) {
	d := newDevice(t)
	d.set(1, coil, 0x10, 0)
	d.set(1, holding, 0x20, 0)
	d.set(1, input, 0, 1234)
	s := mustNew(t, tcpOpts(d, 1, Register{Field: "x", Table: "input", Address: 0}))
	want(t, read(t, s), "x", 1234, "") // the sensor takes its bus at its first read
	b := acquireBus(t, tcpOpts(d, 1))
	if b != s.bus {
		t.Fatal("a writer on the sensor's endpoint got another bus")
	}
	ctx := ctx5s(t)
	if err := b.WriteCoil(ctx, 1, 0x10, true); err != nil {
		t.Fatal(err)
	}
	if got := d.get(1, coil, 0x10); got != 1 {
		t.Errorf("coil 0x10 = %d after writing ON", got)
	}
	if err := b.WriteCoil(ctx, 1, 0x10, false); err != nil || d.get(1, coil, 0x10) != 0 {
		t.Errorf("coil OFF: %v, coil = %d", err, d.get(1, coil, 0x10))
	}
	if err := b.WriteRegister(ctx, 1, 0x20, 0xBEEF); err != nil || d.get(1, holding, 0x20) != 0xBEEF {
		t.Errorf("register: %v, holding 0x20 = %#x", err, d.get(1, holding, 0x20))
	}
	want(t, read(t, s), "x", 1234, "")
	if n := d.connections(); n != 1 {
		t.Errorf("sensor and writer opened %d connections, want 1", n)
	}

	err := b.WriteCoil(ctx, 1, 0x99, true)
	if !errors.Is(err, mb.ErrIllegalDataAddress) || err.Error() != "illegal data address writing coil 0x0099 of unit 1 on "+d.url {
		t.Errorf("write to a missing coil: %v", err)
	}
	err = b.WriteRegister(ctx, 1, 0x21, 1)
	if err == nil || err.Error() != "illegal data address writing holding register 0x0021 of unit 1 on "+d.url {
		t.Errorf("write to a missing register: %v", err)
	}
	if got := d.get(1, holding, 0x20); got != 0xBEEF {
		t.Errorf("a refused write changed holding 0x20 to %#x", got)
	}
}

// Modbus TCP to pymodbus: the values the server holds after the writes
// are read from its own dump, and its exception comes back by name.
func TestPymodbusWriteTCP(t *testing.T) {
	needPymodbus(t)
	addr := freePort(t)
	held := startPymodbusDump(t, "tcp", addr, pyImage{
		3: {"coil": {5: 0}, "holding": {0x100: 0}},
	})
	o := DefaultOptions()
	o.URL = "tcp://" + addr
	b := acquireBus(t, &o)
	ctx := ctx5s(t)
	if err := b.WriteCoil(ctx, 3, 5, true); err != nil {
		t.Fatal(err)
	}
	if v, ok := held(3, "coil", 5); !ok || v != 1 {
		t.Errorf("pymodbus coil 5 = %d (%v) after writing ON", v, ok)
	}
	if err := b.WriteRegister(ctx, 3, 0x100, 0xA55A); err != nil {
		t.Fatal(err)
	}
	if v, ok := held(3, "holding", 0x100); !ok || v != 0xA55A {
		t.Errorf("pymodbus holding 0x100 = %#x (%v), want 0xa55a", v, ok)
	}
	if err := b.WriteCoil(ctx, 3, 5, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := held(3, "coil", 5); v != 0 {
		t.Errorf("pymodbus coil 5 = %d after writing OFF", v)
	}
	err := b.WriteCoil(ctx, 3, 6, true)
	if !errors.Is(err, mb.ErrIllegalDataAddress) || err.Error() != "illegal data address writing coil 0x0006 of unit 3 on tcp://"+addr {
		t.Errorf("write to a coil pymodbus lacks: %v", err)
	}
}

// A sensor and a writer on one RTU port (a relay board beside a meter on
// RS-485): one Bus, whose requests, run from both at once, all get their
// own answers; the writes are in pymodbus's image.
func TestPymodbusRTUSensorAndWriterShareBus(t *testing.T) {
	needPymodbus(t)
	needSocat(t)
	dir := t.TempDir()
	cp := newPtyPair(t, dir, "ttyUSB0", "relay-a")
	sp := newPtyPair(t, dir, "relay-b", "device")
	held := startPymodbusDump(t, "rtu", sp.b, pyImage{
		1: pzemImage(),
		2: {"coil": {0: 0, 1: 0}, "holding": {0x10: 0}},
	})
	newRelay(t, cp.b, sp.a, 0)

	meter := mustNew(t, rtuOpts(cp.a, 1, "pzem-016"))
	checkPZEM(t, meter) // the sensor takes its bus at its first read
	b := acquireBus(t, rtuOpts(cp.a, 2, ""))
	if b != meter.bus {
		t.Fatal("a writer on the sensor's port got another bus: two clients on one wire")
	}
	ctx := ctx5s(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 3; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := meter.Read(ctx); err != nil {
				errs <- err
			}
		}()
		go func(i int) {
			defer wg.Done()
			if err := b.WriteRegister(ctx, 2, 0x10, uint16(100+i)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent request on the shared bus: %v", err)
	}
	if err := b.WriteCoil(ctx, 2, 1, true); err != nil {
		t.Fatal(err)
	}
	checkPZEM(t, meter)
	if v, ok := held(2, "coil", 1); !ok || v != 1 {
		t.Errorf("pymodbus coil 1 = %d (%v) after writing ON", v, ok)
	}
	if v, _ := held(2, "coil", 0); v != 0 {
		t.Errorf("pymodbus coil 0 = %d: a write landed on the wrong coil", v)
	}
	if v, _ := held(2, "holding", 0x10); v < 100 || v > 102 {
		t.Errorf("pymodbus holding 0x10 = %d, want one of the written 100-102", v)
	}
	err := b.WriteRegister(ctx, 2, 0x11, 1)
	if !errors.Is(err, mb.ErrIllegalDataAddress) || err.Error() != "illegal data address writing holding register 0x0011 of unit 2 on "+cp.a {
		t.Errorf("write to a register pymodbus lacks: %v", err)
	}
}
