package modbus

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pzemImage is a PZEM-016's measurement registers per its manual's
// resolutions: 230.1 V, 12.345 A, 7089.5 W, 123456 Wh, 50.0 Hz, 0.95.
func pzemImage() map[string]map[int]uint16 {
	return map[string]map[int]uint16{"input": {
		0: 2301, 1: 0x3039, 2: 0, 3: 0x14EF, 4: 0x0001, 5: 0xE240, 6: 0x0001, 7: 500, 8: 95, 9: 0,
	}}
}

func checkPZEM(t *testing.T, s *Sensor) {
	t.Helper()
	got := read(t, s)
	want(t, got, "voltage", 230.1, "V")
	want(t, got, "current", 12.345, "A")
	want(t, got, "power", 7089.5, "W")
	want(t, got, "energy", 123456, "Wh")
	want(t, got, "frequency", 50, "Hz")
	want(t, got, "power_factor", 0.95, "")
}

// Modbus TCP against pymodbus: a profile on one unit, inline registers of
// every width on another, and an exception by name.
func TestPymodbusTCP(t *testing.T) {
	needPymodbus(t)
	addr := freePort(t)
	startPymodbus(t, "tcp", addr, pyImage{
		1: pzemImage(),
		2: {"holding": {0x10: 0x4366, 0x11: 0x199A, 0x12: 0xFFFF, 0x13: 0xFFFF, 0x14: 0xFFFF, 0x15: 0xFF9C, 0x20: 0xFFFE}},
	})
	o := DefaultOptions()
	o.URL = "tcp://" + addr
	o.Profile = "pzem-016"
	checkPZEM(t, mustNew(t, &o))

	o2 := DefaultOptions()
	o2.URL = "tcp://" + addr
	o2.UnitID = 2
	o2.Registers = []Register{
		{Field: "f", Address: 0x10, Type: "float32"},
		{Field: "i64", Address: 0x12, Type: "int64"},
		{Field: "sf", Address: 0x20, Type: "int16"},
	}
	got := read(t, mustNew(t, &o2))
	want(t, got, "f", 230.1, "")
	want(t, got, "i64", -100, "")
	want(t, got, "sf", -2, "")

	o3 := o2
	o3.Registers = []Register{{Field: "x", Table: "input", Address: 0x3110}}
	_, err := mustNew(t, &o3).Read(context.Background())
	if err == nil || err.Error() != "illegal data address at input register 0x3110 of unit 2 on tcp://"+addr {
		t.Errorf("exception: %v", err)
	}
}

// RTU frames over TCP, as a serial-to-Ethernet gateway passes them.
func TestPymodbusRTUOverTCP(t *testing.T) {
	needPymodbus(t)
	addr := freePort(t)
	startPymodbus(t, "rtutcp", addr, pyImage{7: pzemImage()})
	o := DefaultOptions()
	o.URL = "rtuovertcp://" + addr
	o.UnitID = 7
	o.Profile = "pzem-016"
	checkPZEM(t, mustNew(t, &o))
}

// rtuBus is an RS-485 bus made of two socat pty pairs joined by a relay:
// the driver opens port; pymodbus serves img on the far side.
type rtuBus struct {
	port   string
	client *ptyPair
	relay  *relay
}

func newRTUBus(t testing.TB, baud int, img pyImage) *rtuBus {
	needPymodbus(t)
	needSocat(t)
	dir := t.TempDir()
	cp := newPtyPair(t, dir, "ttyUSB0", "relay-a")
	sp := newPtyPair(t, dir, "relay-b", "device")
	startPymodbus(t, "rtu", sp.b, img)
	r := newRelay(t, cp.b, sp.a, baud)
	return &rtuBus{port: cp.a, client: cp, relay: r}
}

func rtuOpts(port string, unit int, profile string) *Options {
	o := DefaultOptions()
	o.Port = port
	o.UnitID = unit
	o.Profile = profile
	// pymodbus answers in milliseconds, but Python on a loaded 2-core CI
	// box, or under qemu-user in make test-arm, has been seen to take
	// over 300 ms; a late answer is then read as the next unit's.
	o.RequestTimeout = config.D(2 * time.Second)
	return &o
}

// Two units on one RTU bus, a third that never answers beside them, a
// garbled answer, and the adapter unplugged and plugged back.
func TestPymodbusRTU(t *testing.T) {
	bus := newRTUBus(t, 0, pyImage{
		1: pzemImage(),
		2: {"input": {0x3100: 9876, 0x3101: 250, 0x3102: 0xE240, 0x3103: 0x0001}},
	})
	meter := mustNew(t, rtuOpts(bus.port, 1, "pzem-016"))
	mppt := mustNew(t, func() *Options {
		o := rtuOpts(bus.port, 2, "")
		o.Registers = []Register{
			{Field: "pv_voltage", Table: "input", Address: 0x3100, Scale: ptr(0.01), Unit: "V"},
			{Field: "pv_power", Table: "input", Address: 0x3102, Type: "uint32", WordOrder: "little", Scale: ptr(0.01), Unit: "W"},
		}
		return o
	}())
	ghost := mustNew(t, rtuOpts(bus.port, 3, "pzem-016"))

	t.Run("two units", func(t *testing.T) {
		checkPZEM(t, meter)
		got := read(t, mppt)
		want(t, got, "pv_voltage", 98.76, "V")
		want(t, got, "pv_power", 1234.56, "W")
		if meter.bus != mppt.bus {
			t.Error("two sensors on one port got two buses")
		}
	})

	t.Run("silent unit beside a live one", func(t *testing.T) {
		start := time.Now()
		_, err := ghost.Read(context.Background())
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "no answer from unit 3 on "+bus.port) {
			t.Fatalf("silent unit: %v", err)
		}
		if took > 5*time.Second { // a failure guard only: the loop must not retry
			t.Errorf("silent unit took %s", took)
		}
		checkPZEM(t, meter)
	})

	t.Run("CRC error", func(t *testing.T) {
		bus.relay.garble.Store(1)
		_, err := meter.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "bad crc") || !strings.Contains(err.Error(), "unit 1 on "+bus.port) {
			t.Fatalf("garbled answer: %v", err)
		}
		checkPZEM(t, meter) // the next read is clean
	})

	t.Run("adapter unplugged and back", func(t *testing.T) {
		defer func(a, b time.Duration) { backoffMin, backoffMax = a, b }(backoffMin, backoffMax)
		backoffMin, backoffMax = 20*time.Millisecond, 100*time.Millisecond
		bus.relay.detach()
		bus.client.Stop()
		_, err := meter.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), bus.port) {
			t.Fatalf("read with the adapter gone: %v", err)
		}
		_, err = meter.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), bus.port) {
			t.Fatalf("second read with the adapter gone: %v", err)
		}
		t.Logf("with the adapter gone: %v", err)
		bus.client.Start()
		bus.relay.reopen()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := meter.Read(context.Background())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no recovery after the adapter came back: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		checkPZEM(t, meter)
		got := read(t, mppt)
		want(t, got, "pv_voltage", 98.76, "V")
	})
}
